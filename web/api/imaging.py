"""Imaging over the API: images, pinned host keys, deployments and their live progress.

The commands and answers are the domain's (provisioning.imaging): the API decodes into them and
returns them. A deployment is only queued here; a worker (`reemploi worker`) runs it.
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from provisioning.imaging import deploy, hostkeys, images, jobs
from provisioning.imaging.deploy import DeploymentIn
from provisioning.imaging.hostkeys import HostKeyIn, HostKeyOut
from provisioning.imaging.images import ImageOut
from provisioning.imaging.jobs import JobOut
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import MANAGERS, WORKSHOP


class ImagingController(Controller):
    path = "/api/v1/imaging"
    tags = ["imaging"]

    @get("/images", opt={"roles": WORKSHOP}, responses=errors())
    async def list_images(self) -> list[ImageOut]:
        """Images with their size, mapped size, version and map hash."""
        return [ImageOut.from_row(r) for r in await images.list_images()]

    @get("/host-keys", opt={"roles": WORKSHOP}, responses=errors())
    async def list_host_keys(self) -> list[HostKeyOut]:
        """Pinned host keys of the live system."""
        return [HostKeyOut.from_row(r) for r in await hostkeys.list_pins()]

    @post("/host-keys", opt={"roles": MANAGERS}, status_code=201, responses=errors(422))
    async def enrol_host_key(
        self, data: JSONBody[HostKeyIn], principal: NamedDependency[Principal]
    ) -> HostKeyOut:
        """Pin a host key (`*` as host: the live system's key, valid at any address)."""
        return await hostkeys.enrol_line(data, principal.actor)

    @get("/deployments", opt={"roles": WORKSHOP}, responses=errors())
    async def list_deployments(self) -> list[JobOut]:
        """The latest deployment jobs, newest first, with phase, bytes, rate and ETA."""
        return [JobOut.from_row(r) for r in await jobs.recent()]

    @get("/deployments/{job_id:int}", opt={"roles": WORKSHOP}, responses=errors(404))
    async def get_deployment(self, job_id: FromPath[int]) -> JobOut:
        """One deployment job."""
        return JobOut.from_row(await jobs.get(job_id))

    @post("/deployments", opt={"roles": WORKSHOP}, status_code=202, responses=errors(404, 409, 422))
    async def create_deployment(
        self, data: JSONBody[DeploymentIn], principal: NamedDependency[Principal]
    ) -> list[int]:
        """Queue the deployment of an image to several PCs at once (a worker runs the jobs);
        returns the job numbers at once."""
        return await deploy.enqueue(data, principal.actor)
