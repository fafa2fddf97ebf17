"""Imaging over the API: images, pinned host keys, deployments and their live progress."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post

from provisioning.imaging import deploy, hostkeys, images, jobs
from web.accounts import Principal
from web.roles import MANAGERS, WORKSHOP

Short = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
# Deployments run in the server's loop; keep a reference so they are not collected mid-way.
RUNNING: set[asyncio.Task] = set()


class ImageOut(msgspec.Struct):
    name: str
    version: str
    size_bytes: int
    mapped_bytes: int
    compressed_bytes: int
    range_count: int
    map_sha256: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ImageOut:
        return cls(**{f: row[f] for f in cls.__struct_fields__})


class HostKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A host's public key line as printed by the live system (`ssh-ed25519 AAAA…`)."""

    host: Short
    public_key: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    port: Port = 22
    label: Annotated[str, msgspec.Meta(max_length=120)] = ""


class HostKeyOut(msgspec.Struct):
    host: str
    port: int
    key_type: str
    fingerprint: str
    label: str
    enrolled_at: datetime
    enrolled_by: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> HostKeyOut:
        return cls(**{f: row[f] for f in cls.__struct_fields__})


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    host: Short
    port: Port = 22
    disk: Annotated[str, msgspec.Meta(max_length=120, pattern=r"^(/dev/[A-Za-z0-9/_.-]+)?$")] = ""


class DeploymentIn(msgspec.Struct, forbid_unknown_fields=True):
    image: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    profile: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    targets: Annotated[list[TargetIn], msgspec.Meta(min_length=1, max_length=100)]


class JobOut(msgspec.Struct):
    id: int
    asset_tag: str
    target: str
    disk: str
    image: str
    profile: str
    status: str
    phase: str
    phase_label: str
    reason: str
    bytes_done: int
    bytes_total: int
    rate: float
    eta_seconds: float
    steps: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobOut:
        fields = {f: row[f] for f in cls.__struct_fields__ if f != "phase_label"}
        return cls(**fields, phase_label=jobs.PHASES.get(row["phase"], row["phase"]))


async def start_deployment(data: DeploymentIn, actor: str) -> list[int]:
    """Queue the jobs (refusing a bad request at once) and run them in the background."""
    targets = [
        deploy.Target(host=t.host, tag=t.tag, port=t.port, disk=t.disk) for t in data.targets
    ]
    options = deploy.Options(pkey=deploy.workshop_key(), actor=actor)
    batch = await deploy.prepare(data.image, data.profile, targets, actor)
    task = asyncio.create_task(deploy.run_batch(batch, options))
    RUNNING.add(task)
    task.add_done_callback(RUNNING.discard)
    return batch.job_ids


class ImagingController(Controller):
    path = "/api/v1/imaging"
    tags = ["imaging"]

    @get("/images", opt={"roles": WORKSHOP})
    async def list_images(self) -> list[ImageOut]:
        """Images with their size, mapped size, version and map hash."""
        return [ImageOut.from_row(r) for r in await images.list_images()]

    @get("/host-keys", opt={"roles": WORKSHOP})
    async def list_host_keys(self) -> list[HostKeyOut]:
        """Pinned host keys of the live system."""
        return [HostKeyOut.from_row(r) for r in await hostkeys.list_pins()]

    @post("/host-keys", opt={"roles": MANAGERS}, status_code=201)
    async def enrol_host_key(self, data: HostKeyIn, principal: Principal) -> HostKeyOut:
        """Pin a host key (`*` as host: the live system's key, valid at any address)."""
        key = hostkeys.parse_public_key(data.public_key)
        row = await hostkeys.enrol(
            data.host.strip(), key, port=data.port, label=data.label, actor=principal.actor
        )
        return HostKeyOut.from_row(row)

    @get("/deployments", opt={"roles": WORKSHOP})
    async def list_deployments(self) -> list[JobOut]:
        """The latest deployment jobs, newest first, with phase, bytes, rate and ETA."""
        return [JobOut.from_row(r) for r in await jobs.recent()]

    @get("/deployments/{job_id:int}", opt={"roles": WORKSHOP})
    async def get_deployment(self, job_id: int) -> JobOut:
        """One deployment job."""
        return JobOut.from_row(await jobs.get(job_id))

    @post("/deployments", opt={"roles": WORKSHOP}, status_code=202)
    async def create_deployment(self, data: DeploymentIn, principal: Principal) -> list[int]:
        """Start deploying an image to several PCs at once; returns the job numbers."""
        return await start_deployment(data, principal.actor)
