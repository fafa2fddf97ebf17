"""One deployment job's steps on its PC, shared by unicast and chained deployments.

`JobRun.open` connects with the pinned host key, takes the inventory, wipes if the device was
never wiped, chooses the disk and sends the block map; the ranges then arrive unicast
(`write_unicast`) or through a chain (provisioning.imaging.chain); `conclude` checks that every
range was verified on the PC, repairs the GPT, grows and personalises, and records the result.
Blocking SSH work runs in threads while the job's progress is saved every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import json
import logging
import shlex
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from inventory import devices
from inventory.errors import DomainError, Invalid
from provisioning.imaging import images, inventory_collect, jobs, personalise, profiles, remote_wipe
from provisioning.imaging.blockmap import BlockMap
from provisioning.imaging.hostkeys import PinnedKeyPolicy, load_pins
from provisioning.imaging.tables import JobStatus
from provisioning.imaging.target_agent import choose_disk, internal
from provisioning.imaging.transport import Endpoint, RemoteError, SocketFactory, connect, run

AGENT = Path(__file__).with_name("target_agent.py")
# Shipped beside the agent, which imports them from its own folder on the live system.
AGENT_MODULES = ("target_personalise.py", "target_partitions.py", "target_chain.py")
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
log = logging.getLogger("reemploi.worker")
# Blocking SSH work of every job: the loop's default pool (CPUs + 4 threads) would make a table
# of PCs wait for one another's connections and personalisation.
SSH_THREADS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="reemploi-ssh")


def in_thread(fn, *args) -> asyncio.Future:
    """Run blocking `fn(*args)` in the SSH pool."""
    return asyncio.get_running_loop().run_in_executor(SSH_THREADS, fn, *args)


class StepFailed(RuntimeError):
    pass


class Remote:
    """The blocking SSH half of one job."""

    def __init__(
        self, transport: paramiko.Transport, files: dict[str, bytes] | None = None, first: str = ""
    ):
        self.transport = transport
        # One round trip: a fresh folder and the agent with its modules (and `files`, such as
        # the block map), sent as a tar stream; then the agent's `first` command, if any.
        line = 'd=$(mktemp -d /tmp/reemploi.XXXXXX) && tar -x -C "$d" && echo "$d"'
        if first:
            line += f' && {PATH} && python3 "$d/agent.py" {shlex.quote(first)}'
        status, out, err = run(transport, line, _agent_tar(files or {}), check=False)
        said = out.decode(errors="replace").strip().splitlines()
        if not said or not said[0].startswith("/tmp/reemploi."):
            text = err.decode(errors="replace").strip() or "\n".join(said)
            raise RemoteError(f"« mktemp » a échoué ({status}) : {text[-500:]}")
        self.workdir = said[0]
        # The first command's answer (an error when it failed or said nothing).
        self.first: dict[str, Any] = {}
        if first:
            try:
                self.first = json.loads(said[-1]) if len(said) > 1 else {}
            except ValueError:
                self.first = {}
            if status != 0 or not self.first:
                detail = err.decode(errors="replace").strip()[-300:]
                self.first.setdefault("error", f"l'agent ne répond pas ({status}) : {detail}")

    def put(self, path: str, data: bytes) -> None:
        run(self.transport, f"cat > {shlex.quote(path)}", data)

    def command(self, *args: str, pipe: str = "") -> str:
        """The shell line that runs the agent with `args` (fed by `pipe` when given)."""
        agent = f"python3 {self.workdir}/agent.py {' '.join(shlex.quote(a) for a in args)}"
        return f"{PATH}; {pipe} | {agent}" if pipe else f"{PATH}; {agent}"

    def agent(self, *args: str, stdin: Any = b"", pipe: str = "", on_sent=None) -> dict:
        line = self.command(*args, pipe=pipe)
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


def _agent_tar(files: dict[str, bytes]) -> bytes:
    """agent.py, the modules it imports and `files`, as an uncompressed tar."""
    out = io.BytesIO()
    shipped = [("agent.py", AGENT), *((n, AGENT.with_name(n)) for n in AGENT_MODULES)]
    contents = [(name, path.read_bytes()) for name, path in shipped] + list(files.items())
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in contents:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def _read_map(path: str, stamp: tuple[int, int]) -> tuple[BlockMap, bytes, str]:
    block_map = BlockMap.from_json(json.loads(Path(path).read_bytes()))
    canonical = block_map.canonical()
    return block_map, canonical, hashlib.sha256(canonical).hexdigest()


def block_map(image: dict[str, Any]) -> tuple[BlockMap, bytes]:
    """The image's checked block map and its canonical bytes, parsed once per process (a table
    of PCs shares one image); a map file changed on disk is read and checked again."""
    path = images.map_path(image)
    st = path.stat()
    found, canonical, sha = _read_map(str(path), (st.st_mtime_ns, st.st_size))
    if sha != image["map_sha256"]:
        raise Invalid(f"La carte de blocs de l'image {image['name']} est altérée.")
    return found, canonical


def chunks(path: Path, size: int = 1024 * 1024):
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


class JobRun:
    """One claimed job on its PC; its progress and result are written while `worker` holds it."""

    def __init__(
        self,
        job_id: int,
        target: Any,
        device: dict[str, Any],
        image: dict[str, Any],
        profile: profiles.Profile,
        options: Options,
        worker: str,
    ):
        self.job_id, self.target, self.device = job_id, target, device
        self.image, self.profile, self.options, self.worker = image, profile, options, worker
        self.progress = jobs.Progress(bytes_total=image["compressed_bytes"])
        self.remote: Remote | None = None
        self.disk = ""
        self.map_path = ""
        self.ended = False
        self.inventory: asyncio.Future[None] | None = None

    @property
    def tag(self) -> str:
        return self.device["asset_tag"]

    async def save(self) -> None:
        await jobs.save(self.job_id, self.progress, self.worker)

    async def step(self, fn, *args):
        """Run blocking work in a thread, saving progress while it runs."""
        task = in_thread(fn, *args)
        while not task.done():
            await asyncio.wait([task], timeout=0.5)
            await self.save()
        return task.result()

    def observe(self) -> None:
        if self.options.observer is not None:
            self.options.observer(self.job_id, self.progress)

    def on_sent(self, count: int) -> None:
        self.progress.sent(count)
        self.observe()

    async def open(self) -> None:
        """Every step before the ranges: connect, the disks, wipe if needed, the disk chosen.

        The agent and the block map travel in one round trip; the full hardware inventory
        (lshw, dmidecode, smartctl) runs on its own channel while the ranges are written, and
        is stored before the result (`conclude`)."""
        target, options = self.target, self.options
        await self.save()
        policy = PinnedKeyPolicy(await load_pins(), target.port)
        self.progress.enter("connect", target.address)
        transport = await self.step(
            lambda: connect(
                Endpoint(target.host, target.port, target.user),
                options.pkey,
                policy,
                open_socket=options.open_socket,
            )
        )
        try:
            map_bytes = block_map(self.image)[1]
            session: Remote = await self.step(Remote, transport, {"map.json": map_bytes}, "disks")
        except BaseException:
            transport.close()
            raise
        self.remote = session
        self.map_path = f"{session.workdir}/map.json"
        self.progress.enter("inventory")
        if "error" in session.first:
            raise StepFailed(session.first["error"])
        disks = session.first["disks"]
        self.inventory = asyncio.ensure_future(self._inventory(session))
        self.progress.enter("wipe")
        facts = await devices.device_facts(await devices.get_device(self.tag))
        if not facts.disks_sanitized:
            if target.disk:
                to_wipe = [await self.step(session.agent, "identify", target.disk)]
            else:
                to_wipe = internal(disks)
            if not to_wipe:
                raise StepFailed("aucun disque interne à effacer n'a été trouvé")
            try:
                wiped = await remote_wipe.wipe_disks(
                    session, to_wipe, tag=self.tag, actor=options.actor, station=target.address,
                    step=self.step,
                )  # fmt: skip
            except RuntimeError as error:
                raise StepFailed(str(error)) from None
            self.progress.enter("wipe", ", ".join(r["certificate_id"] or "" for r in wiped))
        self.progress.enter("disk")
        self.disk = target.disk or _choose(disks)

    async def _inventory(self, session: Remote) -> None:
        raw = await in_thread(session.agent, "facts")
        await inventory_collect.store(self.device["id"], inventory_collect.summarise(raw))

    async def inventoried(self) -> None:
        """Wait for the inventory taken during the transfer; its failure fails the job."""
        if self.inventory is not None:
            await self.inventory

    async def drop_inventory(self) -> None:
        """Stop waiting for an inventory the job no longer needs (it failed or ended)."""
        task, self.inventory = self.inventory, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task

    async def write_unicast(self) -> dict[str, Any]:
        """The ranges from this server alone, decompressed on the PC, written and verified."""
        assert self.remote is not None
        session = self.remote
        self.progress.enter("transfer", self.disk)
        return await self.step(
            lambda: session.agent(
                "write",
                self.disk,
                self.map_path,
                stdin=chunks(images.data_path(self.image)),
                pipe="zstd -q -d -c",
                on_sent=self.on_sent,
            )
        )

    async def conclude(self, written: dict[str, Any]) -> None:
        """Check the read-back, repair the GPT, grow, personalise, record: the job passes."""
        assert self.remote is not None
        session, image, profile = self.remote, self.image, self.profile
        ranges = len(block_map(image)[0].ranges)
        self.progress.enter("verify", f"{written['verified']}/{written['ranges']}")
        if written["verified"] != written["ranges"] or written["ranges"] != ranges:
            raise StepFailed(
                f"{written['ranges'] - written['verified']} plage(s) relue(s) avec une empreinte "
                f"différente (décalages {written['bad_offsets']})"
            )
        await self.inventoried()
        self.progress.enter("finish")
        spec = personalise.spec_for(self.tag, profile, image)
        finished = await self.step(
            lambda: session.agent("finish", self.disk, stdin=json.dumps(spec).encode())
        )
        self.progress.enter("record")
        details = {
            "image": image["name"],
            "version": image["version"],
            "map_sha256": image["map_sha256"],
            "profile": profile.name,
            "target": self.target.address,
            "disk": self.disk,
            "ranges_verified": written["verified"],
            "job": self.job_id,
            **finished,
        }
        await devices.record_image_verified(self.tag, True, self.options.actor, details)
        if (await devices.get_device(self.tag))["state"] == "wiped":
            await devices.apply_transition(self.tag, "image_verified", self.options.actor)
        self.progress.enter("done")
        await jobs.finish(self.job_id, self.progress, self.worker, JobStatus.passed)
        self.ended = True

    async def fail(self, error: BaseException) -> None:
        if not self.ended:
            self.ended = True
            await jobs.finish(
                self.job_id, self.progress, self.worker, JobStatus.failed, reason(error)
            )

    async def close(self) -> None:
        await self.drop_inventory()
        if self.remote is not None:
            remote, self.remote = self.remote, None
            await in_thread(remote.close)

    async def guarded(self, work) -> bool:
        """Await `work`; on any failure, fail the job with its reason and close. True if it ran."""
        try:
            await work
            return True
        except (Exception, asyncio.CancelledError) as error:
            await self.fail(error)
            await self.close()
            if not isinstance(error, Exception):
                raise
            return False


def _choose(disks: list[dict[str, Any]]) -> str:
    try:
        return choose_disk(disks)["path"]
    except ValueError as error:
        raise StepFailed(str(error)) from None


def reason(error: BaseException) -> str:
    """The French reason a job failed with."""
    if isinstance(error, asyncio.CancelledError):
        return "interrompu : le déploiement a été arrêté avant la fin"
    if isinstance(error, DomainError | StepFailed | RemoteError):
        return str(error)
    if isinstance(error, EOFError | ConnectionError | OSError | paramiko.SSHException):
        text = str(error) or type(error).__name__
        return f"connexion SSH perdue ou refusée : {text}"
    return f"{type(error).__name__}: {error}"


async def run_unicast(run_: JobRun) -> None:
    """Run one job to its end, the ranges sent by this server alone."""
    try:
        if await run_.guarded(run_.open()):
            await run_.guarded(_write_and_conclude(run_))
    finally:
        await run_.close()


async def _write_and_conclude(run_: JobRun) -> None:
    await run_.conclude(await run_.write_unicast())
