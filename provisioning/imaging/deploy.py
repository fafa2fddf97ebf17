"""Deploy an image to PCs booted into the live system, many at once, each step recorded.

A request is checked and queued (`prepare`); a worker process (`reemploi worker`,
provisioning.imaging.worker) claims each job and runs it (`run_claimed`); the command line runs
the jobs it queued itself, claimed at creation (`deploy`). With more than one PC the deployment
is chained unless unicast is asked for (provisioning.imaging.chain): its jobs share a chain name
and a worker claims them together. Each job's steps (provisioning.imaging.job_run) run their SSH
work in threads (paramiko blocks) while the event loop saves its progress every half second. The
device's state changes only after every range was verified on the target and the system was
personalised; any failure leaves it as it was, and the job can be rerun.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
import paramiko

from inventory import devices
from inventory.commands import build, checked
from inventory.config import settings
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from provisioning.imaging import catalogue, chain, images, jobs, profiles
from provisioning.imaging.job_run import JobRun, Options, Remote, StepFailed, run_unicast
from provisioning.imaging.tables import JobStatus
from provisioning.imaging.transport import SocketFactory

__all__ = ["Options", "Remote", "StepFailed"]
# How sockets to targets are opened (None: plain TCP); the test harness opens them in a namespace.
OPEN_SOCKET: SocketFactory | None = None
log = logging.getLogger("reemploi.worker")


class Mode(StrEnum):
    """How the ranges travel: chained through the PCs, or from the server to each PC."""

    auto = "auto"
    chained = "chained"
    unicast = "unicast"


Short = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
DISK_PATTERN = r"^(/dev/[A-Za-z0-9/_.-]+)?$"


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    """One PC to install: its asset tag, its address in the live system, optionally its disk."""

    # Host first: `Target(host, tag)` as the bench and older callers write it.
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^[^\s@/=]+$")]
    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    port: Port = 22
    disk: Annotated[str, msgspec.Meta(max_length=120, pattern=DISK_PATTERN)] = ""
    user: ClassVar[str] = "root"
    field_labels: ClassVar[dict[str, str]] = {
        "tag": "Étiquette",
        "host": "Adresse",
        "port": "Port SSH",
        "disk": "Disque",
    }

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


# The name the tests and the command line use for a target.
Target = TargetIn


class DeploymentIn(msgspec.Struct, forbid_unknown_fields=True):
    """Deploy one image with one profile to up to 100 PCs at once."""

    image: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    profile: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    targets: Annotated[list[TargetIn], msgspec.Meta(min_length=1, max_length=100)]
    # auto: chained when more than one PC is selected, unicast for one.
    mode: Mode = Mode.auto
    field_labels: ClassVar[dict[str, str]] = {
        "image": "Image",
        "profile": "Profil",
        "targets": "Cibles",
        "mode": "Mode",
    }


def chained(mode: Mode | str, count: int) -> bool:
    """Whether `count` PCs deployed in `mode` form a chain."""
    return count > 1 and Mode(mode) != Mode.unicast


@dataclass
class Batch:
    image: dict[str, Any]
    profile: profiles.Profile
    jobs: list[tuple[int, TargetIn, dict[str, Any]]]

    @property
    def job_ids(self) -> list[int]:
        return [job_id for job_id, _, _ in self.jobs]


async def prepare(
    image_name: str,
    profile_name: str,
    targets: list[TargetIn],
    actor: str,
    worker: str = "",
    mode: Mode = Mode.auto,
) -> Batch:
    """Check the request and create one queued job per target (nothing is contacted yet); with
    `worker`, the jobs are created already claimed by that process. Chained jobs share a chain
    name, their order that of the targets."""
    targets = [checked(t) for t in targets]
    image = await images.get_image(image_name)
    if await catalogue.is_retired(image):
        raise Conflict(f"L'image {image['name']} est retirée : choisissez-en une autre.")
    profile = profiles.get_profile(profile_name)
    if not targets:
        raise Invalid("Aucune cible : donnez au moins une adresse.")
    if len({t.tag for t in targets}) != len(targets):
        raise Invalid("Une même étiquette figure deux fois dans la liste des cibles.")
    found = [await devices.get_device(t.tag) for t in targets]
    chain_name = f"chaine-{secrets.token_hex(6)}" if chained(mode, len(targets)) else ""
    batch = Batch(image, profile, [])
    for device, target in zip(found, targets, strict=True):
        job_id = await jobs.create(
            device_id=device["id"],
            tag=device["asset_tag"],
            target=target.address,
            disk=target.disk,
            image=image["name"],
            profile=profile.name,
            actor=actor,
            worker=worker,
            chain=chain_name,
        )
        batch.jobs.append((job_id, target, device))
    return batch


async def enqueue(command: DeploymentIn, actor: str) -> list[int]:
    """What the web process does: check the request and the workshop key, queue the jobs; a
    worker runs them (a chain's jobs together). The job numbers, at once."""
    workshop_key()
    batch = await prepare(
        command.image, command.profile, list(command.targets), actor, mode=command.mode
    )
    return batch.job_ids


def target_of(job: dict[str, Any]) -> TargetIn:
    """The target a job row names (`root@HOST:PORT` and its disk)."""
    _, _, address = job["target"].rpartition("@")
    host, _, port = address.rpartition(":")
    return TargetIn(tag=job["asset_tag"], host=host, port=int(port or 22), disk=job["disk"])


async def _job_run(job_id: int, worker: str, options: Options) -> JobRun | None:
    """The run of a job `worker` holds, from its row; None when it failed at once (its device,
    image or profile gone)."""
    job = await jobs.get(job_id)
    options = Options(
        pkey=options.pkey,
        actor=job["actor"],
        open_socket=options.open_socket or OPEN_SOCKET,
        observer=options.observer,
    )
    try:
        device = await devices.get_device(job["asset_tag"])
        image = await images.get_image(job["image"])
        profile = profiles.get_profile(job["profile"])
    except DomainError as error:
        await jobs.finish(job_id, jobs.Progress(), worker, JobStatus.failed, str(error))
        return None
    return JobRun(job_id, target_of(job), device, image, profile, options, worker)


async def run_claimed(job_id: int, worker: str, options: Options) -> None:
    """Run a job `worker` holds, from its row (a worker's restart loses nothing it needs)."""
    if (run := await _job_run(job_id, worker, options)) is not None:
        await run_unicast(run)


async def run_claimed_chain(job_ids: list[int], worker: str, options: Options) -> None:
    """Run jobs `worker` holds as one chain, in the order given."""
    runs = [await _job_run(job_id, worker, options) for job_id in job_ids]
    await chain.run_chain([r for r in runs if r is not None])


async def run_owned(
    job_ids: list[int], worker: str, options: Options, mode: Mode = Mode.auto
) -> None:
    """Run jobs `worker` holds, all at once (chained or not), heartbeating until the last ends."""
    async with heartbeating(worker):
        if chained(mode, len(job_ids)):
            await run_claimed_chain(job_ids, worker, options)
        else:
            await asyncio.gather(*(run_claimed(job_id, worker, options) for job_id in job_ids))


@contextlib.asynccontextmanager
async def heartbeating(worker: str, on_lost: Callable[[set[int]], None] | None = None):
    """Refresh the heartbeat of `worker`'s jobs every few seconds while the block runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(jobs.HEARTBEAT_SECONDS)
            try:
                held = await jobs.heartbeat(worker)
            except Exception:  # the database busy or restarting: the next beat tries again
                log.exception("Battement de %s non enregistré.", worker)
                continue
            if on_lost is not None:
                on_lost(held)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def deploy(
    image_name: str,
    profile_name: str,
    targets: list[TargetIn],
    options: Options,
    mode: Mode = Mode.auto,
) -> list[dict[str, Any]]:
    """Create one job per target claimed by this process, run them all at once (chained when
    `mode` says so), return the finished jobs (what `reemploi image deploy` does, no worker)."""
    worker = jobs.worker_name("cli")
    batch = await prepare(image_name, profile_name, targets, options.actor, worker, mode)
    await run_owned(batch.job_ids, worker, options, mode)
    return [await jobs.get(job_id) for job_id in batch.job_ids]


def workshop_key(path: Path | None = None) -> paramiko.PKey:
    """The workshop's SSH key: `REEMPLOI_SSH_KEY`, or `ssh/id_ed25519` in the data directory."""
    path = path or settings().ssh_key
    try:
        return paramiko.PKey.from_path(str(path))
    except (OSError, paramiko.SSHException) as error:
        raise Invalid(f"Clé SSH de l'atelier illisible ({path}) : {error}") from None


def parse_target(text: str) -> TargetIn:
    """`TAG@HOST[:PORT][=DISK]`, as typed on the command line or in the web form."""
    tag, sep, rest = text.strip().partition("@")
    address, _, disk = rest.partition("=")
    host, _, port = address.partition(":")
    if not sep or not tag.strip() or not host or (port and not port.isdigit()):
        raise FieldInvalid(
            "targets",
            f"Cible illisible « {text.strip()} » : attendu ÉTIQUETTE@ADRESSE[:PORT][=DISQUE].",
        )
    if disk and not disk.startswith("/dev/"):
        raise FieldInvalid("targets", f"Disque illisible « {disk} » : attendu /dev/….")
    values = {"tag": tag.strip(), "host": host, "port": port or "22", "disk": disk}
    try:
        return build(TargetIn, values, strict=False)
    except FieldInvalid as error:
        raise FieldInvalid("targets", f"Cible « {text.strip()} » : {error}") from None


MAX_TARGET_TEXT = 20_000


def deployment_from_text(
    image: str, profile: str, lines: str | list[str], mode: str = Mode.auto
) -> DeploymentIn:
    """The deployment a form or the command line describes, targets written one per line as
    `TAG@HOST[:PORT][=DISK]`, checked as the DeploymentIn the API takes."""
    if isinstance(lines, str):
        if len(lines) > MAX_TARGET_TEXT:
            raise FieldInvalid("targets", "Donnez de 1 à 100 cibles, une par ligne.")
        lines = lines.splitlines()
    wanted = [line for line in lines if line.strip()]
    if not wanted or len(wanted) > 100:
        raise FieldInvalid("targets", "Donnez de 1 à 100 cibles, une par ligne.")
    targets = [parse_target(line) for line in wanted]
    return build(
        DeploymentIn,
        {
            "image": image.strip(),
            "profile": profile.strip(),
            "targets": [msgspec.structs.asdict(t) for t in targets],
            "mode": mode.strip() or Mode.auto,
        },
        strict=False,
    )
