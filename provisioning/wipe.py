"""The wipe engine's core: Clear by overwrite, read-back verification, purge markers.

Standard library only: this file and disk_identity.py are copied over SSH and run by the live
system's python3 (`python3 wipe.py clear /dev/sdX --verify sample` prints JSON lines: progress,
then the report). `run_clear` is the one entry point, on the bench and over SSH alike.
Messages meant for people are in French; they end up in sanitization records.
"""

from __future__ import annotations

import argparse
import json
import math
import mmap
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

try:  # on the server and the bench
    from provisioning import disk_identity
    from provisioning.wipe_device import (
        MARKER_SIZE,
        Device,
        Progress,
        ProgressCallback,
        Ticker,
        WipeError,
        check_markers,
        drop_cache,
        filled_buffer,
        io_error,
        write_markers,
    )
except ImportError:  # on the live system, disk_identity.py and wipe_device.py travel beside it
    import disk_identity  # type: ignore[no-redef]
    from wipe_device import (  # type: ignore[no-redef]
        MARKER_SIZE,
        Device,
        Progress,
        ProgressCallback,
        Ticker,
        WipeError,
        check_markers,
        drop_cache,
        filled_buffer,
        io_error,
        write_markers,
    )

# The live system receives these files and runs wipe.py (see imaging/remote_wipe.py).
ENGINE_FILES = ("wipe.py", "wipe_device.py", "disk_identity.py")
ENGINE_NAME = "Réemploi effaceur"
ENGINE_VERSION = "1.1"
MiB = 1 << 20
CHUNK = 16 * MiB  # large aligned writes: Python's per-call overhead vanishes at this size
PERIOD = MiB  # patterns repeat every MiB, so any MiB-aligned block has the same expected bytes
SAMPLE_FRACTION = 0.10
DEPTH = 2  # requests in flight, per direction
# Read-back requests in flight while writing. Where reads and writes share one bandwidth (a
# SATA link, this bench's loop device) any split only moves time between the two; 2 and 2
# gave the shortest total there. Full-duplex devices (NVMe) do both at once.
READ_DEPTH = 2
FLUSH_EVERY = 16  # chunks written between cache flushes; the read-back trails the last flush
__all__ = ["MARKER_SIZE", "Device", "Progress", "Ticker", "WipeError"]
__all__ += ["check_markers", "write_markers", "clear", "run_clear"]


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
    write_seconds: float  # first write to the last flush
    verify_seconds: float  # first read to the last comparison (overlapping the writes or not)
    overlapped: bool = False  # the read-back ran while the last pass was being written
    total_seconds: float = 0.0
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
    buffer = filled_buffer(chunk, one.block)
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
                raise io_error("d'écriture", device.path, at, error) from None
            if written != length:
                raise WipeError(f"Écriture incomplète sur {device.path} à l'octet {at}.")
            done += length
            ticker.update(done)
    try:
        os.fsync(device.fd)
    except OSError as error:
        raise io_error("de synchronisation", device.path, done, error) from None
    if device.watch is not None:
        device.watch.check(device.path, force=True)
    ticker.update(done, final=True)


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
    drop_cache(device)
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
                raise io_error("de lecture", device.path, offset, error) from None
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


class Pipeline:
    """The last pass written and read back at once (see `write_and_verify`)."""

    def __init__(self, device: Device, one: Pass, chunk: int) -> None:
        self.device, self.chunk, self.size = device, chunk, device.size
        self.source = memoryview(filled_buffer(chunk, one.block))
        self.expected = bytearray(one.block * (chunk // PERIOD))
        self.buffers = [mmap.mmap(-1, chunk) for _ in range(READ_DEPTH)]
        self.writes: deque[tuple[int, int, Future[int]]] = deque()
        self.reads: deque[tuple[int, int, mmap.mmap, Future[int]]] = deque()
        self.flush: tuple[int, Future[None]] | None = None
        self.write_at = self.written = self.flushed = self.read_at = self.verified = 0
        self.turn = 0
        self.mismatch: int | None = None

    def submit(self, pool: ThreadPoolExecutor) -> list[Future[Any]]:
        """Keep DEPTH writes and READ_DEPTH reads in flight, and one flush; what is in flight."""
        fd, chunk, size = self.device.fd, self.chunk, self.size
        while self.write_at < size and len(self.writes) < DEPTH:
            length = min(chunk, size - self.write_at)
            job = pool.submit(os.pwrite, fd, self.source[:length], self.write_at)
            self.writes.append((self.write_at, length, job))
            self.write_at += length
        while self.read_at < self.flushed and len(self.reads) < READ_DEPTH:
            length = min(chunk, size - self.read_at)
            buffer = self.buffers[self.turn % READ_DEPTH]
            self.turn += 1
            job = pool.submit(os.preadv, fd, [memoryview(buffer)[:length]], self.read_at)
            self.reads.append((self.read_at, length, buffer, job))
            self.read_at += length
        unflushed = self.written - self.flushed
        if (
            self.flush is None
            and unflushed
            and (unflushed >= FLUSH_EVERY * chunk or self.written == size)
        ):
            self.flush = (self.written, pool.submit(os.fsync, fd))
        return (
            [job for *_, job in self.writes]
            + [job for *_, job in self.reads]
            + ([self.flush[1]] if self.flush else [])
        )

    def collect(self) -> tuple[int, int]:
        """Settle what finished, in order; (bytes newly written, bytes newly verified)."""
        path = self.device.path
        wrote = checked = 0
        while self.writes and self.writes[0][2].done():
            at, length, job = self.writes.popleft()
            try:
                done = job.result()
            except OSError as error:
                raise io_error("d'écriture", path, at, error) from None
            if done != length:
                raise WipeError(f"Écriture incomplète sur {path} à l'octet {at}.")
            self.written += length
            wrote += length
        if self.flush is not None and self.flush[1].done():
            upto, job = self.flush
            self.flush = None
            try:
                job.result()
            except OSError as error:
                raise io_error("de synchronisation", path, upto, error) from None
            self.flushed = upto
        while self.reads and self.reads[0][3].done() and self.mismatch is None:
            at, length, buffer, job = self.reads.popleft()
            try:
                got = job.result()
            except OSError as error:
                raise io_error("de lecture", path, at, error) from None
            if got != length:
                raise WipeError(f"Lecture incomplète de {path} à l'octet {at}.")
            # bytearray == mmap compares with memcmp; a memoryview on the left would not.
            if length == self.chunk:
                same = self.expected == buffer
            else:
                same = self.expected[:length] == memoryview(buffer)[:length]
            if not same:
                self.mismatch = at
                break
            self.verified += length
            checked += length
        return wrote, checked


def write_and_verify(
    device: Device,
    one: Pass,
    *,
    step: int,
    steps: int,
    chunk: int,
    progress: ProgressCallback | None,
    stop: Callable[[], bool],
) -> tuple[int, int, int | None, float, float]:
    """Write `one` and read it back at once: (written, verified, mismatch, write s, read s).

    Writes and reads keep large aligned requests in flight (DEPTH, READ_DEPTH): the device is
    never idle, and where it can write and read at once the read-back costs almost no time. A
    range is read only once a flush issued after its write has returned: what is compared is
    what the drive committed, not its write cache. The reader trails by at most FLUSH_EVERY
    chunks.
    """
    drop_cache(device)
    line = Pipeline(device, one, chunk)
    writing = Ticker("write", step, steps, device.size, progress)
    reading = Ticker("verify", steps, steps, device.size, None)  # speaks once writing is done
    started = time.monotonic()
    write_end: float | None = None
    read_start: float | None = None
    with ThreadPoolExecutor(max_workers=2 * DEPTH + 1) as pool:
        while line.verified < device.size and line.mismatch is None:
            if stop():
                raise WipeError("Effacement arrêté avant la fin.", status="interrupted")
            device.check()
            pending = line.submit(pool)
            if read_start is None and line.reads:
                read_start = time.monotonic()
            wait(pending, return_when=FIRST_COMPLETED)
            wrote, checked = line.collect()
            if wrote:
                writing.update(line.written)
            if write_end is None and line.flushed == device.size:
                write_end = time.monotonic()
                if device.watch is not None:
                    device.watch.check(device.path, force=True)
                writing.update(line.written, final=True)
                reading.callback = progress
            if checked:
                reading.update(line.verified)
    ended = time.monotonic()
    reading.update(line.verified, final=True)
    return (
        line.written,
        line.verified,
        line.mismatch,
        (write_end or ended) - started,
        ended - (read_start or ended),
    )


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
    overlap: bool = True,
) -> ClearResult:
    """Overwrite every addressable byte of `path`, then read it back; raise WipeError on failure.

    With a full read-back and `overlap`, the last pass is read back while it is being written
    (`write_and_verify`); otherwise the read-back follows the writing.
    """
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
        pipelined = overlap and verify == "full"
        started = time.monotonic()
        for step, one in enumerate(passes[:-1] if pipelined else passes, start=1):
            write_pass(
                device, one, step=step, steps=steps, chunk=chunk, progress=progress, stop=stop
            )
        if pipelined:
            before = time.monotonic()
            written, checked, mismatch, write_last, verify_seconds = write_and_verify(
                device, passes[-1], step=len(passes), steps=steps, chunk=chunk,
                progress=progress, stop=stop,
            )  # fmt: skip
            write_seconds = before - started + write_last
            bytes_written = written  # short of the size only when a mismatch stopped it
        else:
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
            write_seconds = wrote - started
            verify_seconds = time.monotonic() - wrote
            bytes_written = device.size
        if device.watch is not None:
            device.watch.check(path, force=True)
        details: dict[str, object] = {}
        if mismatch is not None:
            details["mismatch_offset"] = mismatch
        return ClearResult(
            size_bytes=device.size,
            bytes_written=bytes_written,
            passes=[p.name for p in passes],
            verify_mode=verify,
            verified_bytes=checked,
            verify_passed=mismatch is None,
            direct_io=device.direct,
            sector_size=device.sector,
            sample_seed=seed if verify == "sample" or scheme != "zeros" else None,
            write_seconds=write_seconds,
            verify_seconds=verify_seconds,
            overlapped=pipelined,
            total_seconds=time.monotonic() - started,
            details=details,
        )
    finally:
        device.close()


def run_clear(
    path: str,
    *,
    scheme: str | None = None,
    verify: str = "full",
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] = lambda: False,
    identity: disk_identity.DiskIdentity | None = None,
    overlap: bool | None = None,
) -> dict[str, Any]:
    """The one entry point of a Clear, on the bench and on the live system alike.

    Identify the disk (unless given), remove an HPA (refuse a DCO), overwrite, read back. The
    report is what every caller maps to a record with `job.clear_outcome`: `event` is `result`
    (the ClearResult's fields) or `error` (`status`, `reason`); both carry the disk's identity.
    """
    if identity is None:
        try:
            identity = disk_identity.identify(path)
        except (OSError, ValueError) as error:
            reason = f"Disque introuvable ou illisible ({error}) : effacement non fait."
            return {"event": "error", "status": "failed", "reason": reason, "identity": None}
    report: dict[str, Any] = {"scheme": scheme or identity.clear_scheme, "verify": verify}
    refused = disk_identity.open_hidden_areas(identity)
    if refused is None:
        # A hard disk has one head: reading while writing would only make it seek back and forth.
        overlap = (identity.is_loop or not identity.rotational) if overlap is None else overlap
        try:
            result = clear(
                identity.path, scheme=report["scheme"], verify=verify, progress=progress,
                stop=stop, overlap=overlap,
            )  # fmt: skip
            report = {"event": "result", **asdict(result), **report}
        except WipeError as error:
            report.update(event="error", status=error.status, reason=error.reason)
    else:
        report.update(event="error", status="failed", reason=refused)
    report["hidden_areas"] = identity.hidden_areas
    report["identity"] = identity.as_dict()
    return report


def _main(argv: list[str] | None = None) -> int:
    """JSON-lines command line for the live system: progress lines, then one report line."""
    parser = argparse.ArgumentParser(description="Effacement Clear d'un disque (NIST SP 800-88).")
    sub = parser.add_subparsers(dest="command", required=True)
    who = sub.add_parser("identify", help="identité du disque (smartctl, hdparm, nvme, sysfs)")
    who.add_argument("device")
    run = sub.add_parser("clear", help="retirer la HPA, écraser puis relire")
    run.add_argument("device")
    run.add_argument("--scheme", choices=["auto", "zeros", "pattern-complement"], default="auto")
    run.add_argument("--verify", choices=["full", "sample"], default="full")
    args = parser.parse_args(argv)
    if args.command == "identify":
        try:
            found = disk_identity.identify(args.device)
        except (OSError, ValueError) as error:
            print(json.dumps({"event": "error", "status": "failed", "reason": str(error)}))
            return 1
        print(json.dumps({"event": "identity", **found.as_dict()}), flush=True)
        return 0

    def emit(item: Progress) -> None:
        print(json.dumps(item.as_dict()), flush=True)

    scheme = None if args.scheme == "auto" else args.scheme
    report = run_clear(args.device, scheme=scheme, verify=args.verify, progress=emit)
    print(json.dumps(report), flush=True)
    return 0 if report["event"] == "result" and report["verify_passed"] else 1


if __name__ == "__main__":
    sys.exit(_main())
