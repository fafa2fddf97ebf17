"""Deploy an image to PCs booted into the live system, many at once, each step recorded.

A request is checked and queued (`prepare`); a worker process (`reemploi worker`,
provisioning.imaging.worker) claims each job and runs it (`run_claimed`); the command line runs
the jobs it queued itself, claimed at creation (`deploy`). Each job runs its SSH work in a thread
(paramiko blocks) while the event loop saves its progress every half second. The device's state
changes only after every range was verified on the target and the system was personalised; any
failure leaves it as it was, and the job can be rerun.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
import paramiko

from inventory import devices
from inventory.commands import build, checked
from inventory.config import settings
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from provisioning.imaging import (
    catalogue,
    images,
    inventory_collect,
    jobs,
    personalise,
    profiles,
    remote_wipe,
)
from provisioning.imaging.hostkeys import PinnedKeyPolicy, load_pins
from provisioning.imaging.tables import JobStatus
from provisioning.imaging.target_agent import choose_disk, internal
from provisioning.imaging.transport import Endpoint, RemoteError, SocketFactory, connect, run

AGENT = Path(__file__).with_name("target_agent.py")
# Shipped beside the agent, which imports them from its own folder on the live system.
AGENT_MODULES = ("target_personalise.py", "target_partitions.py")
# How sockets to targets are opened (None: plain TCP); the test harness opens them in a namespace.
OPEN_SOCKET: SocketFactory | None = None
log = logging.getLogger("reemploi.worker")
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StepFailed(RuntimeError):
    pass


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
    field_labels: ClassVar[dict[str, str]] = {
        "image": "Image",
        "profile": "Profil",
        "targets": "Cibles",
    }


class Remote:
    """The blocking SSH half of one job."""

    def __init__(self, transport: paramiko.Transport):
        self.transport = transport
        self.workdir = run(transport, "mktemp -d /tmp/reemploi.XXXXXX")[1].decode().strip()
        self.put(f"{self.workdir}/agent.py", AGENT.read_bytes())
        for name in AGENT_MODULES:
            self.put(f"{self.workdir}/{name}", AGENT.with_name(name).read_bytes())

    def put(self, path: str, data: bytes) -> None:
        run(self.transport, f"cat > {shlex.quote(path)}", data)

    def agent(self, *args: str, stdin: Any = b"", pipe: str = "", on_sent=None) -> dict:
        command = " ".join(shlex.quote(a) for a in args)
        agent = f"python3 {self.workdir}/agent.py {command}"
        line = f"{PATH}; {pipe} | {agent}" if pipe else f"{PATH}; {agent}"
        status, out, err = run(self.transport, line, stdin, check=False, on_sent=on_sent)
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            detail = err.decode(errors="replace").strip()[-300:]
            raise StepFailed(f"l'agent ne répond pas ({status}) : {detail}") from None
        if status != 0 or "error" in result:
            raise StepFailed(result.get("error", f"code {status}"))
        return result

    def close(self) -> None:
        try:
            if self.transport.is_active():
                run(self.transport, f"rm -rf {self.workdir}", check=False, timeout=10)
        finally:
            self.transport.close()


def _chunks(path: Path, size: int = 1024 * 1024):
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


@dataclass
class Options:
    """How this process reaches the PCs: the workshop's key, and for tests a socket opener."""

    pkey: paramiko.PKey
    actor: str = ""
    open_socket: SocketFactory | None = None
    observer: Callable[[int, jobs.Progress], None] | None = None


@dataclass
class Batch:
    image: dict[str, Any]
    profile: profiles.Profile
    jobs: list[tuple[int, TargetIn, dict[str, Any]]]

    @property
    def job_ids(self) -> list[int]:
        return [job_id for job_id, _, _ in self.jobs]


async def prepare(
    image_name: str, profile_name: str, targets: list[TargetIn], actor: str, worker: str = ""
) -> Batch:
    """Check the request and create one queued job per target (nothing is contacted yet); with
    `worker`, the jobs are created already claimed by that process."""
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
        )
        batch.jobs.append((job_id, target, device))
    return batch


async def enqueue(command: DeploymentIn, actor: str) -> list[int]:
    """What the web process does: check the request and the workshop key, queue the jobs; a
    worker runs them. The job numbers, at once."""
    workshop_key()
    batch = await prepare(command.image, command.profile, list(command.targets), actor)
    return batch.job_ids


def target_of(job: dict[str, Any]) -> TargetIn:
    """The target a job row names (`root@HOST:PORT` and its disk)."""
    _, _, address = job["target"].rpartition("@")
    host, _, port = address.rpartition(":")
    return TargetIn(tag=job["asset_tag"], host=host, port=int(port or 22), disk=job["disk"])


async def run_claimed(job_id: int, worker: str, options: Options) -> None:
    """Run a job `worker` holds, from its row (a worker's restart loses nothing it needs)."""
    job = await jobs.get(job_id)
    options = Options(
        pkey=options.pkey,
        actor=job["actor"],
        open_socket=options.open_socket,
        observer=options.observer,
    )
    try:
        device = await devices.get_device(job["asset_tag"])
        image = await images.get_image(job["image"])
        profile = profiles.get_profile(job["profile"])
    except DomainError as error:
        await jobs.finish(job_id, jobs.Progress(), worker, JobStatus.failed, str(error))
        return
    await run_job(job_id, target_of(job), device, image, profile, options, worker)


async def run_owned(job_ids: list[int], worker: str, options: Options) -> None:
    """Run jobs `worker` holds, all at once, heartbeating until the last one ends."""
    async with heartbeating(worker):
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
    image_name: str, profile_name: str, targets: list[TargetIn], options: Options
) -> list[dict[str, Any]]:
    """Create one job per target claimed by this process, run them all at once, return the
    finished jobs (what `reemploi image deploy` does, without a worker)."""
    worker = jobs.worker_name("cli")
    batch = await prepare(image_name, profile_name, targets, options.actor, worker)
    await run_owned(batch.job_ids, worker, options)
    return [await jobs.get(job_id) for job_id in batch.job_ids]


def workshop_key(path: Path | None = None) -> paramiko.PKey:
    """The workshop's SSH key: `REEMPLOI_SSH_KEY`, or `ssh/id_ed25519` in the data directory."""
    path = path or settings().ssh_key
    try:
        return paramiko.PKey.from_path(str(path))
    except (OSError, paramiko.SSHException) as error:
        raise Invalid(f"Clé SSH de l'atelier illisible ({path}) : {error}") from None


async def run_job(
    job_id: int,
    target: TargetIn,
    device: dict[str, Any],
    image: dict[str, Any],
    profile: profiles.Profile,
    options: Options,
    worker: str,
) -> None:
    """Run one claimed job to its end; its progress and result are written while `worker`
    still holds it (a job taken back by another worker is left to it)."""
    progress = jobs.Progress(bytes_total=image["compressed_bytes"])
    tag = device["asset_tag"]
    await jobs.save(job_id, progress, worker)
    remote: Remote | None = None

    async def step(fn, *args):
        """Run blocking work in a thread, saving progress while it runs."""
        task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        while not task.done():
            await asyncio.wait([task], timeout=0.5)
            await jobs.save(job_id, progress, worker)
        return task.result()

    try:
        policy = PinnedKeyPolicy(await load_pins(), target.port)
        progress.enter("connect", target.address)
        transport = await step(
            lambda: connect(
                Endpoint(target.host, target.port, target.user),
                options.pkey,
                policy,
                open_socket=options.open_socket or OPEN_SOCKET,
            )
        )
        session: Remote = await step(Remote, transport)
        remote = session
        progress.enter("inventory")
        raw = await step(session.agent, "facts")
        await inventory_collect.store(device["id"], inventory_collect.summarise(raw))
        progress.enter("wipe")
        facts = await devices.device_facts(await devices.get_device(tag))
        if not facts.disks_sanitized:
            if target.disk:
                to_wipe = [await step(session.agent, "identify", target.disk)]
            else:
                to_wipe = internal(raw["disks"])
            if not to_wipe:
                raise StepFailed("aucun disque interne à effacer n'a été trouvé")
            try:
                wiped = await remote_wipe.wipe_disks(
                    session, to_wipe, tag=tag, actor=options.actor, station=target.address,
                    step=step,
                )  # fmt: skip
            except RuntimeError as error:
                raise StepFailed(str(error)) from None
            progress.enter("wipe", ", ".join(r["certificate_id"] or "" for r in wiped))
        progress.enter("disk")
        disk = target.disk or _choose(raw["disks"])
        progress.enter("transfer", disk)
        block_map = images.load_map(image)
        await step(session.put, f"{session.workdir}/map.json", block_map.canonical())

        def on_sent(count: int) -> None:
            progress.sent(count)
            if options.observer is not None:
                options.observer(job_id, progress)

        written = await step(
            lambda: session.agent(
                "write",
                disk,
                f"{session.workdir}/map.json",
                stdin=_chunks(images.data_path(image)),
                pipe="zstd -q -d -c",
                on_sent=on_sent,
            )
        )
        progress.enter("verify", f"{written['verified']}/{written['ranges']}")
        if written["verified"] != written["ranges"] or written["ranges"] != len(block_map.ranges):
            raise StepFailed(
                f"{written['ranges'] - written['verified']} plage(s) relue(s) avec une empreinte "
                f"différente (décalages {written['bad_offsets']})"
            )
        progress.enter("finish")
        spec = personalise.spec_for(tag, profile, image)
        finished = await step(
            lambda: session.agent("finish", disk, stdin=json.dumps(spec).encode())
        )
        progress.enter("record")
        details = {
            "image": image["name"],
            "version": image["version"],
            "map_sha256": image["map_sha256"],
            "profile": profile.name,
            "target": target.address,
            "disk": disk,
            "ranges_verified": written["verified"],
            "job": job_id,
            **finished,
        }
        await devices.record_image_verified(tag, True, options.actor, details)
        if (await devices.get_device(tag))["state"] == "wiped":
            await devices.apply_transition(tag, "image_verified", options.actor)
        progress.enter("done")
        await jobs.finish(job_id, progress, worker, JobStatus.passed)
    except (Exception, asyncio.CancelledError) as error:
        await jobs.finish(job_id, progress, worker, JobStatus.failed, _reason(error))
        if not isinstance(error, Exception):
            raise
    finally:
        if remote is not None:
            await asyncio.to_thread(remote.close)


def _choose(disks: list[dict[str, Any]]) -> str:
    try:
        return choose_disk(disks)["path"]
    except ValueError as error:
        raise StepFailed(str(error)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return "interrompu : le déploiement a été arrêté avant la fin"
    if isinstance(error, DomainError | StepFailed | RemoteError):
        return str(error)
    if isinstance(error, EOFError | ConnectionError | OSError | paramiko.SSHException):
        text = str(error) or type(error).__name__
        return f"connexion SSH perdue ou refusée : {text}"
    return f"{type(error).__name__}: {error}"


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


def deployment_from_text(image: str, profile: str, lines: str | list[str]) -> DeploymentIn:
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
        },
        strict=False,
    )
