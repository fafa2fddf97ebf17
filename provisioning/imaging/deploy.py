"""Deploy an image to PCs booted into the live system, many at once, each step recorded.

Each job runs its SSH work in a thread (paramiko blocks) while the event loop saves its progress
every half second. The device's state changes only after every range was verified on the target
and the system was personalised; any failure leaves it as it was, and the job can be rerun.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from inventory import devices
from inventory.errors import Conflict, DomainError, Invalid
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
from provisioning.imaging.target_agent import internal
from provisioning.imaging.transport import Endpoint, RemoteError, SocketFactory, connect, run

AGENT = Path(__file__).with_name("target_agent.py")
# Shipped beside the agent, which imports them from its own folder on the live system.
AGENT_MODULES = ("target_personalise.py", "target_partitions.py")
# How sockets to targets are opened (None: plain TCP); the test harness opens them in a namespace.
OPEN_SOCKET: SocketFactory | None = None
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StepFailed(RuntimeError):
    pass


@dataclass
class Target:
    host: str
    tag: str
    port: int = 22
    user: str = "root"
    disk: str = ""

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


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
    pkey: paramiko.PKey
    actor: str
    open_socket: SocketFactory | None = None
    observer: Callable[[int, jobs.Progress], None] | None = None


@dataclass
class Batch:
    image: dict[str, Any]
    profile: profiles.Profile
    jobs: list[tuple[int, Target, dict[str, Any]]]

    @property
    def job_ids(self) -> list[int]:
        return [job_id for job_id, _, _ in self.jobs]


async def prepare(image_name: str, profile_name: str, targets: list[Target], actor: str) -> Batch:
    """Check the request and create one queued job per target (nothing is contacted yet)."""
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
        )
        batch.jobs.append((job_id, target, device))
    return batch


async def run_batch(batch: Batch, options: Options) -> list[dict[str, Any]]:
    """Run every job of the batch at once; return the finished jobs."""
    await asyncio.gather(
        *(
            run_job(job_id, target, device, batch.image, batch.profile, options)
            for job_id, target, device in batch.jobs
        )
    )
    return [await jobs.get(job_id) for job_id in batch.job_ids]


async def deploy(
    image_name: str, profile_name: str, targets: list[Target], options: Options
) -> list[dict[str, Any]]:
    """Create one job per target, run them all at once, return the finished jobs."""
    batch = await prepare(image_name, profile_name, targets, options.actor)
    return await run_batch(batch, options)


def workshop_key() -> paramiko.PKey:
    """The workshop's SSH key: `REEMPLOI_SSH_KEY`, or `ssh/id_ed25519` in the data directory."""
    from inventory.config import data_dir

    path = os.environ.get("REEMPLOI_SSH_KEY") or str(data_dir() / "ssh" / "id_ed25519")
    try:
        return paramiko.PKey.from_path(path)
    except (OSError, paramiko.SSHException) as error:
        raise Invalid(f"Clé SSH de l'atelier illisible ({path}) : {error}") from None


async def run_job(
    job_id: int,
    target: Target,
    device: dict[str, Any],
    image: dict[str, Any],
    profile: profiles.Profile,
    options: Options,
) -> None:
    progress = jobs.Progress(bytes_total=image["compressed_bytes"])
    tag = device["asset_tag"]
    await jobs.save(job_id, progress, status=JobStatus.running, started_at=jobs.now())
    remote: Remote | None = None

    async def step(fn, *args):
        """Run blocking work in a thread, saving progress while it runs."""
        task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        while not task.done():
            await asyncio.wait([task], timeout=0.5)
            await jobs.save(job_id, progress)
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
        remote = await step(Remote, transport)
        progress.enter("inventory")
        raw = await step(remote.agent, "facts")
        await inventory_collect.store(device["id"], inventory_collect.summarise(raw))
        progress.enter("wipe")
        facts = await devices.device_facts(await devices.get_device(tag))
        if not facts.disks_sanitized:
            if target.disk:
                to_wipe = [await step(remote.agent, "identify", target.disk)]
            else:
                to_wipe = internal(raw["disks"])
            if not to_wipe:
                raise StepFailed("aucun disque interne à effacer n'a été trouvé")
            try:
                wiped = await remote_wipe.wipe_disks(
                    remote, to_wipe, tag=tag, actor=options.actor, station=target.address,
                    step=step,
                )  # fmt: skip
            except RuntimeError as error:
                raise StepFailed(str(error)) from None
            progress.enter("wipe", ", ".join(r["certificate_id"] or "" for r in wiped))
        progress.enter("disk")
        disk = target.disk or _choose(raw["disks"])
        progress.enter("transfer", disk)
        block_map = images.load_map(image)
        await step(remote.put, f"{remote.workdir}/map.json", block_map.canonical())

        def on_sent(count: int) -> None:
            progress.sent(count)
            if options.observer is not None:
                options.observer(job_id, progress)

        written = await step(
            lambda: remote.agent(
                "write",
                disk,
                f"{remote.workdir}/map.json",
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
        finished = await step(lambda: remote.agent("finish", disk, stdin=json.dumps(spec).encode()))
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
        await jobs.save(job_id, progress, status=JobStatus.passed, finished_at=jobs.now())
    except (Exception, asyncio.CancelledError) as error:
        reason = _reason(error)
        await jobs.save(
            job_id, progress, status=JobStatus.failed, reason=reason, finished_at=jobs.now()
        )
        if not isinstance(error, Exception):
            raise
    finally:
        if remote is not None:
            await asyncio.to_thread(remote.close)


def _choose(disks: list[dict[str, Any]]) -> str:
    from provisioning.imaging.target_agent import choose_disk

    try:
        return choose_disk(disks)["path"]
    except ValueError as error:
        raise StepFailed(str(error)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, DomainError | StepFailed | RemoteError):
        return str(error)
    if isinstance(error, EOFError | ConnectionError | OSError | paramiko.SSHException):
        text = str(error) or type(error).__name__
        return f"connexion SSH perdue ou refusée : {text}"
    return f"{type(error).__name__}: {error}"


def parse_target(text: str) -> Target:
    """`TAG@HOST[:PORT][=DISK]`, as typed on the command line or in the web form."""
    tag, sep, rest = text.strip().partition("@")
    address, _, disk = rest.partition("=")
    host, _, port = address.partition(":")
    if not sep or not tag or not host or (port and not port.isdigit()):
        raise Invalid(
            f"Cible illisible « {text.strip()} » : attendu ÉTIQUETTE@ADRESSE[:PORT][=DISQUE]."
        )
    if disk and not disk.startswith("/dev/"):
        raise Invalid(f"Disque illisible « {disk} » : attendu /dev/….")
    return Target(host=host, tag=tag.strip(), port=int(port or 22), disk=disk)
