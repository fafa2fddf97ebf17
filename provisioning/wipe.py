"""The wipe engine's core: Clear by overwrite, read-back verification, purge markers.

Standard library only: this file is also copied over SSH and run by the live system's python3
(`python3 wipe.py clear /dev/sdX --verify sample` prints JSON lines: progress, then the result).
Messages meant for people are in French; they end up in sanitization records.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import hashlib
import json
import math
import mmap
import os
import random
import stat
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENGINE_NAME = "Réemploi effaceur"
ENGINE_VERSION = "1.0"
MiB = 1 << 20
CHUNK = 16 * MiB  # large aligned writes: Python's per-call overhead vanishes at this size
PERIOD = MiB  # patterns repeat every MiB, so any MiB-aligned block has the same expected bytes
SAMPLE_FRACTION = 0.10
WATCH_INTERVAL = 0.5  # seconds between checks that the device is still the one we opened
BLKGETSIZE64 = 0x80081272
BLKSSZGET = 0x1268
MARKER_SIZE = 4096
DEPTH = 2  # requests in flight

ProgressCallback = Callable[["Progress"], None]


class WipeError(Exception):
    """A wipe that did not complete; `status` is `failed` or `interrupted`, `reason` a sentence."""

    def __init__(self, reason: str, status: str = "failed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class Progress:
    phase: str  # "write" or "verify"
    step: int
    steps: int
    done: int
    total: int
    rate: float  # bytes per second in this phase
    eta: float | None  # seconds left in this phase

    def as_dict(self) -> dict[str, object]:
        return {"event": "progress", **asdict(self)}


@dataclass
class ClearResult:
    """What a Clear did, in the terms a record needs: nothing is claimed that did not run."""

    size_bytes: int
    bytes_written: int  # every addressable byte, once per pass
    passes: list[str]
    verify_mode: str
    verified_bytes: int
    verify_passed: bool
    direct_io: bool
    sector_size: int
    sample_seed: int | None
    write_seconds: float
    verify_seconds: float
    tool: str = f"{ENGINE_NAME} {ENGINE_VERSION} (Python {sys.version.split()[0]})"
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class Pass:
    name: str  # "zeros", "pattern", "complement"
    block: bytes  # PERIOD bytes, repeated over the whole device


def zero_pass() -> Pass:
    return Pass("zeros", bytes(PERIOD))


def pattern_passes(seed: int) -> list[Pass]:
    """A pseudorandom pattern then its complement: every bit flips once (USB flash)."""
    block = random.Random(seed).randbytes(PERIOD)
    complement = block.translate(bytes(255 - i for i in range(256)))
    return [Pass("pattern", block), Pass("complement", complement)]


def passes_for(scheme: str, seed: int) -> list[Pass]:
    if scheme == "zeros":
        return [zero_pass()]
    if scheme == "pattern-complement":
        return pattern_passes(seed)
    raise ValueError(f"Schéma d'écrasement inconnu : {scheme}")


class Device:
    """An exclusively opened block device (or, for tests of the engine alone, a regular file)."""

    def __init__(self, path: str, *, write: bool) -> None:
        self.path = path
        flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_CLOEXEC
        st = os.stat(path)
        self.is_block = stat.S_ISBLK(st.st_mode)
        if self.is_block:
            # O_EXCL on a block device fails with EBUSY when it is mounted or claimed.
            flags |= os.O_EXCL
        self.fd, self.direct = self._open(path, flags)
        if self.is_block:
            self.size = struct.unpack("Q", fcntl.ioctl(self.fd, BLKGETSIZE64, b"\0" * 8))[0]
            self.sector = struct.unpack("i", fcntl.ioctl(self.fd, BLKSSZGET, b"\0" * 4))[0]
            self.watch = DeviceWatch(st.st_rdev)
        else:
            self.size = st.st_size
            self.sector = 512
            self.watch = None

    @staticmethod
    def _open(path: str, flags: int) -> tuple[int, bool]:
        try:
            return os.open(path, flags | os.O_DIRECT), True
        except OSError as error:
            if error.errno == errno.EBUSY:
                raise WipeError(
                    f"{path} est utilisé (monté, en swap ou ouvert par un autre programme) : "
                    "effacement refusé."
                ) from None
            if error.errno != errno.EINVAL:
                raise WipeError(f"Impossible d'ouvrir {path} : {error.strerror}.") from None
        # Some devices and file systems refuse O_DIRECT: fall back to buffered I/O plus fsync.
        try:
            return os.open(path, flags), False
        except OSError as error:
            raise WipeError(f"Impossible d'ouvrir {path} : {error.strerror}.") from None

    def check(self) -> None:
        if self.watch is not None:
            self.watch.check(self.path)

    def close(self) -> None:
        os.close(self.fd)


class DeviceWatch:
    """Notice a device that goes away under us, even when the kernel lets writes continue.

    `losetup -d` on an open loop device only sets autoclear (the detach happens at the last
    close), so writes keep succeeding: the flag flipping is the sign that it was detached.
    """

    def __init__(self, rdev: int) -> None:
        self.sysfs = Path(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}")
        self.initial = self._snapshot()
        self.last_check = time.monotonic()

    def _read(self, name: str) -> str | None:
        try:
            return (self.sysfs / name).read_text().strip()
        except OSError:
            return None

    def _snapshot(self) -> dict[str, str | None]:
        return {
            "exists": str(self.sysfs.exists()),
            "size": self._read("size"),
            "diskseq": self._read("diskseq"),
            "autoclear": self._read("loop/autoclear"),
            "backing_file": self._read("loop/backing_file"),
        }

    def check(self, path: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_check < WATCH_INTERVAL:
            return
        self.last_check = now
        current = self._snapshot()
        if current == self.initial:
            return
        if current["autoclear"] == "1" and self.initial["autoclear"] == "0":
            raise WipeError(
                f"{path} a été détaché pendant l'effacement (losetup -d) : "
                "effacement interrompu, aucun certificat."
            )
        raise WipeError(
            f"{path} a disparu ou changé pendant l'effacement (disque retiré ?) : "
            "effacement interrompu, aucun certificat."
        )


class Ticker:
    """Rate and ETA for one phase, reported at most a few times per second."""

    def __init__(
        self, phase: str, step: int, steps: int, total: int, callback: ProgressCallback | None
    ) -> None:
        self.phase, self.step, self.steps, self.total = phase, step, steps, total
        self.callback = callback
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.callback is None or (not final and now - self.last < 0.25):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else None
        self.callback(Progress(self.phase, self.step, self.steps, done, self.total, rate, eta))


def _io_error(action: str, path: str, offset: int, error: OSError) -> WipeError:
    return WipeError(
        f"Erreur {action} sur {path} à l'octet {offset} : {error.strerror} "
        "(disque retiré ou défaillant ?)."
    )


def _filled(size: int, block: bytes) -> mmap.mmap:
    """A page-aligned buffer (as O_DIRECT needs) holding `block` repeated."""
    buffer = mmap.mmap(-1, size)
    buffer.write(block * (size // len(block)))
    return buffer


def write_pass(
    device: Device,
    one: Pass,
    *,
    step: int,
    steps: int,
    chunk: int,
    progress: ProgressCallback | None,
    stop: Callable[[], bool],
) -> None:
    """Write `one` over the whole device, DEPTH requests in flight, then fsync."""
    buffer = _filled(chunk, one.block)
    view = memoryview(buffer)
    ticker = Ticker("write", step, steps, device.size, progress)
    pending: deque[tuple[int, int, Future[int]]] = deque()
    offset = done = 0
    # pwrite releases the GIL: a second request in flight keeps the device busy meanwhile.
    with ThreadPoolExecutor(max_workers=DEPTH) as pool:
        while offset < device.size or pending:
            while offset < device.size and len(pending) < DEPTH:
                if stop():
                    raise WipeError("Effacement arrêté avant la fin.", status="interrupted")
                device.check()
                length = min(chunk, device.size - offset)
                job = pool.submit(os.pwrite, device.fd, view[:length], offset)
                pending.append((offset, length, job))
                offset += length
            at, length, job = pending.popleft()
            try:
                written = job.result()
            except OSError as error:
                raise _io_error("d'écriture", device.path, at, error) from None
            if written != length:
                raise WipeError(f"Écriture incomplète sur {device.path} à l'octet {at}.")
            done += length
            ticker.update(done)
    try:
        os.fsync(device.fd)
    except OSError as error:
        raise _io_error("de synchronisation", device.path, done, error) from None
    if device.watch is not None:
        device.watch.check(device.path, force=True)
    ticker.update(done, final=True)


def _drop_cache(device: Device) -> None:
    # Without O_DIRECT, reading back must not be served from the page cache we just filled.
    if not device.direct:
        os.posix_fadvise(device.fd, 0, 0, os.POSIX_FADV_DONTNEED)


def read_compare(
    device: Device,
    ranges: list[tuple[int, int]],
    expected: bytearray,
    ticker: Ticker,
    stop: Callable[[], bool],
) -> tuple[int, int | None]:
    """Read `ranges` back and compare each with the start of `expected`.

    Returns (bytes verified, offset of the first range that differs, or None). Reads run in a
    thread while the previous range is compared, so comparing costs no device time.
    """
    _drop_cache(device)
    size = len(expected)
    buffers = [mmap.mmap(-1, size) for _ in range(DEPTH)]
    pending: deque[tuple[int, int, mmap.mmap, memoryview, Future[int]]] = deque()
    queue = iter(ranges)
    turn = done = 0
    with ThreadPoolExecutor(max_workers=1) as pool:

        def submit() -> None:
            nonlocal turn
            item = next(queue, None)
            if item is None:
                return
            offset, length = item
            buffer = buffers[turn % DEPTH]
            turn += 1
            part = memoryview(buffer)[:length]
            job = pool.submit(os.preadv, device.fd, [part], offset)
            pending.append((offset, length, buffer, part, job))

        for _ in range(DEPTH):
            submit()
        while pending:
            if stop():
                raise WipeError("Vérification arrêtée avant la fin.", status="interrupted")
            device.check()
            offset, length, buffer, part, job = pending.popleft()
            try:
                got = job.result()
            except OSError as error:
                raise _io_error("de lecture", device.path, offset, error) from None
            if got != length:
                raise WipeError(f"Lecture incomplète de {device.path} à l'octet {offset}.")
            # bytearray == buffer compares with memcmp; memoryview == memoryview would not.
            same = expected == buffer if length == size else expected[:length] == part
            part.release()
            if not same:
                return done, offset
            done += length
            ticker.update(done)
            submit()
    ticker.update(done, final=True)
    return done, None


def full_ranges(size: int, chunk: int) -> list[tuple[int, int]]:
    return [(offset, min(chunk, size - offset)) for offset in range(0, size, chunk)]


def sample_blocks(size: int, seed: int, fraction: float = SAMPLE_FRACTION) -> list[int]:
    """MiB-aligned block indexes: the first and last, plus pseudorandom ones up to `fraction`."""
    count = math.ceil(size / PERIOD)
    wanted = min(count, max(2, math.ceil(count * fraction)))
    chosen = {0, count - 1}
    rest = range(1, count - 1)
    chosen.update(random.Random(seed).sample(rest, max(0, wanted - len(chosen))))
    # The last block may be short: add blocks until the bytes, not the count, reach the share.
    covered = sum(min(PERIOD, size - i * PERIOD) for i in chosen)
    spare = [i for i in rest if i not in chosen]
    random.Random(seed + 1).shuffle(spare)
    while covered < size * fraction and spare:
        chosen.add(spare.pop())
        covered += PERIOD
    return sorted(chosen)


def sample_ranges(size: int, seed: int) -> list[tuple[int, int]]:
    return [(i * PERIOD, min(PERIOD, size - i * PERIOD)) for i in sample_blocks(size, seed)]


def clear(
    path: str,
    *,
    scheme: str = "zeros",
    verify: str = "full",
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK,
    seed: int | None = None,
) -> ClearResult:
    """Overwrite every addressable byte of `path`, then read it back; raise WipeError on failure."""
    if verify not in ("full", "sample"):
        raise ValueError(f"Vérification inconnue : {verify}")
    seed = random.SystemRandom().randrange(1 << 62) if seed is None else seed
    passes = passes_for(scheme, seed)
    device = Device(path, write=True)
    try:
        if device.size == 0:
            raise WipeError(f"{path} a une taille nulle : rien à effacer (support absent ?).")
        if chunk % PERIOD or device.sector > PERIOD:
            raise ValueError("La taille des blocs doit être un multiple de 1 Mio.")
        steps = len(passes) + 1
        started = time.monotonic()
        for step, one in enumerate(passes, start=1):
            write_pass(
                device, one, step=step, steps=steps, chunk=chunk, progress=progress, stop=stop
            )
        wrote = time.monotonic()
        if verify == "full":
            ranges = full_ranges(device.size, chunk)
            expected = bytearray(passes[-1].block * (chunk // PERIOD))
        else:
            ranges = sample_ranges(device.size, seed)
            expected = bytearray(passes[-1].block)
        total = sum(length for _, length in ranges)
        ticker = Ticker("verify", steps, steps, total, progress)
        checked, mismatch = read_compare(device, ranges, expected, ticker, stop)
        if device.watch is not None:
            device.watch.check(path, force=True)
        details: dict[str, object] = {}
        if mismatch is not None:
            details["mismatch_offset"] = mismatch
        return ClearResult(
            size_bytes=device.size,
            bytes_written=device.size,
            passes=[p.name for p in passes],
            verify_mode=verify,
            verified_bytes=checked,
            verify_passed=mismatch is None,
            direct_io=device.direct,
            sector_size=device.sector,
            sample_seed=seed if verify == "sample" or scheme != "zeros" else None,
            write_seconds=wrote - started,
            verify_seconds=time.monotonic() - wrote,
            details=details,
        )
    finally:
        device.close()


def _marker(seed: int, offset: int) -> bytes:
    return random.Random(f"{seed}:{offset}").randbytes(MARKER_SIZE)


def marker_offsets(size: int, seed: int, count: int = 64) -> list[int]:
    """4 KiB-aligned offsets: the first and last blocks plus pseudorandom ones."""
    blocks = size // MARKER_SIZE
    chosen = {0, blocks - 1}
    if blocks > count:
        chosen.update(random.Random(seed).sample(range(1, blocks - 1), count - 2))
    else:
        chosen.update(range(blocks))
    return sorted(i * MARKER_SIZE for i in chosen)


def write_markers(path: str, seed: int, count: int = 64) -> list[int]:
    """Write distinct marker blocks before a purge; their offsets are checked after it."""
    device = Device(path, write=True)
    try:
        offsets = marker_offsets(device.size, seed, count)
        buffer = mmap.mmap(-1, MARKER_SIZE)
        for offset in offsets:
            buffer.seek(0)
            buffer.write(_marker(seed, offset))
            os.pwrite(device.fd, buffer, offset)
        os.fsync(device.fd)
        buffer.close()
        return offsets
    finally:
        device.close()


def check_markers(path: str, seed: int, offsets: list[int]) -> dict[str, object]:
    """After a purge: how many markers survived, and what the drive left instead."""
    device = Device(path, write=False)
    _drop_cache(device)
    survivors, zeros, ones, other = 0, 0, 0, 0
    buffer = mmap.mmap(-1, MARKER_SIZE)
    try:
        for offset in offsets:
            os.preadv(device.fd, [buffer], offset)
            content = bytes(buffer)
            if content == _marker(seed, offset):
                survivors += 1
            elif content == bytes(MARKER_SIZE):
                zeros += 1
            elif content == b"\xff" * MARKER_SIZE:
                ones += 1
            else:
                other += 1
        return {
            "markers": len(offsets),
            "survivors": survivors,
            "zeros": zeros,
            "ones": ones,
            "other": other,
            "passed": survivors == 0,
            "digest": hashlib.sha256(str(offsets).encode()).hexdigest()[:16],
        }
    finally:
        buffer.close()
        device.close()


def _main(argv: list[str] | None = None) -> int:
    """JSON-lines command line for the live system: progress lines, then one result line."""
    parser = argparse.ArgumentParser(description="Effacement Clear d'un disque (NIST SP 800-88).")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("clear", help="écraser puis relire")
    run.add_argument("device")
    run.add_argument("--scheme", choices=["zeros", "pattern-complement"], default="zeros")
    run.add_argument("--verify", choices=["full", "sample"], default="full")
    args = parser.parse_args(argv)

    def emit(item: Progress) -> None:
        print(json.dumps(item.as_dict()), flush=True)

    try:
        result = clear(args.device, scheme=args.scheme, verify=args.verify, progress=emit)
    except WipeError as error:
        print(json.dumps({"event": "error", "status": error.status, "reason": error.reason}))
        return 1
    print(json.dumps({"event": "result", **asdict(result)}), flush=True)
    return 0 if result.verify_passed else 1


if __name__ == "__main__":
    sys.exit(_main())
