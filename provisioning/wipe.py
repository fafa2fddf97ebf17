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
CHUNK = 4 * MiB  # large aligned requests; on SSDs and loop devices 4 MiB x 4 beat 16 MiB x 2
PERIOD = MiB  # patterns repeat every MiB, so any MiB-aligned block has the same expected bytes
SAMPLE_FRACTION = 0.10
# Requests in flight per direction, each thread with its own aligned buffer over disjoint
# extents: an SSD, NVMe or loop device serves several at once, faster than dd's single one.
DEPTH = 4
FLUSH_EVERY = 16  # chunks written between flushes while reads trail; none in read-after-write
# Overlap is measured before it is kept: PROBE_SECONDS (and PROBE_CHUNKS) of writing alone,
# then as long with the read-back trailing; if reading costs the writer more than 10 %, as where
# both share one bandwidth (SATA, this bench's loop device), the read-back waits for the last
# flush. The probe is short: on such a device its reads and writes run at a fraction of speed.
PROBE_SECONDS = 0.01
PROBE_CHUNKS = DEPTH
PROBE_MIN_SIZE = 256 * MiB  # below this, measuring costs more than a wrong guess
OVERLAP_KEEPS = 0.9
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
    write_seconds: float  # first write to the return of the flush after the last write
    verify_seconds: float  # time with read-back requests in flight (waits for flushes excluded)
    overlapped: bool = False  # the read-back trailed the last pass's writing to its end
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


def _write(fd: int, source: memoryview, offset: int) -> int:
    """One write request (runs in a pool thread; pwrite releases the GIL)."""
    return os.pwrite(fd, source, offset)


def _read_check(fd: int, buffer: mmap.mmap, expected: bytearray, offset: int, length: int) -> int:
    """Read one range into `buffer` and compare it with `expected`: bytes read, or -1 if they
    differ. The comparison runs in the same pool thread, while other reads are in flight."""
    with memoryview(buffer) as whole, whole[:length] as part:
        got = os.preadv(fd, [part], offset)
        if got != length:
            return got
        # bytearray == mmap compares with memcmp; a memoryview on the left would not.
        same = expected == buffer if length == len(buffer) else expected[:length] == part
    return length if same else -1


class Lane:
    """Wall time of one direction: when its first request left, and how long any was in flight."""

    def __init__(self) -> None:
        self.inflight = 0
        self.first: float | None = None
        self.since = 0.0
        self.busy = 0.0

    def start(self) -> None:
        if self.inflight == 0:
            self.since = time.monotonic()
            self.first = self.since if self.first is None else self.first
        self.inflight += 1

    def stop(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            self.busy += time.monotonic() - self.since


@dataclass
class Timing:
    """What a pass's pipeline measured; `mode` is how the read-back ran beside the writing."""

    write_seconds: float = 0.0  # first write to the return of the flush after the last one
    verify_seconds: float = 0.0  # time with read-back requests in flight
    verify_span: float = 0.0  # first read to the last comparison, waits included
    mode: str = "after"  # "after", "overlap", or "after (measured)" when the probe chose it
    probe: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Write one pass and read `ranges` back, DEPTH requests in flight in each direction.

    A range is read only once an fdatasync issued after its write has returned: what is
    compared is what the drive committed, not its write cache. `mode` says when reads may run:
    "after" (once the last write is flushed), "overlap" (trailing the flushes) or "probe"
    (measure, then keep overlapping only if it does not slow the writer).
    """

    def __init__(
        self,
        device: Device,
        block: bytes,
        ranges: list[tuple[int, int]],
        *,
        chunk: int,
        mode: str,
        write: bool = True,
    ) -> None:
        self.device, self.chunk, self.size, self.ranges = device, chunk, device.size, ranges
        self.source = memoryview(filled_buffer(chunk, block))
        self.expected = bytearray(block * (chunk // PERIOD))
        self.free = [mmap.mmap(-1, chunk) for _ in range(DEPTH)]
        self.writes: dict[int, tuple[int, Future[int]]] = {}
        self.reads: dict[int, tuple[int, mmap.mmap, Future[int]]] = {}
        self.flush: tuple[int, Future[None]] | None = None
        self.done_writes: dict[int, int] = {}  # offset -> length, written beyond `written`
        self.write_at = self.written = self.flushed = 0 if write else self.size
        self.next_range = 0
        self.verified: list[tuple[int, int]] = []
        self.mismatch: int | None = None
        self.mode = "probe-a" if mode == "probe" else mode
        self.timing = Timing(mode="overlap" if mode == "overlap" else "after")
        self.write_lane, self.read_lane = Lane(), Lane()
        self.probe_at = (time.monotonic(), 0)

    @property
    def reading(self) -> bool:
        return self.mode in ("overlap", "probe-b") or self.flushed == self.size

    def submit(self, pool: ThreadPoolExecutor) -> list[Future[Any]]:
        """Keep DEPTH writes and DEPTH reads in flight, and one flush; return what is in flight."""
        fd, chunk, size = self.device.fd, self.chunk, self.size
        stopping = self.mismatch is not None
        while not stopping and self.write_at < size and len(self.writes) < DEPTH:
            length = min(chunk, size - self.write_at)
            self.write_lane.start()
            job = pool.submit(_write, fd, self.source[:length], self.write_at)
            self.writes[self.write_at] = (length, job)
            self.write_at += length
        while not stopping and self.reading and self.free and self.next_range < len(self.ranges):
            offset, length = self.ranges[self.next_range]
            if offset + length > self.flushed:
                break
            buffer = self.free.pop()
            self.read_lane.start()
            job = pool.submit(_read_check, fd, buffer, self.expected, offset, length)
            self.reads[offset] = (length, buffer, job)
            self.next_range += 1
        unflushed = self.written - self.flushed
        every = {"overlap": FLUSH_EVERY, "after": size // chunk + 1}.get(self.mode, PROBE_CHUNKS)
        if (
            self.flush is None
            and unflushed
            and (unflushed >= every * chunk or self.written == size)
        ):
            self.write_lane.start()
            self.flush = (self.written, pool.submit(os.fdatasync, fd))
        return (
            [job for _, job in self.writes.values()]
            + [job for *_, job in self.reads.values()]
            + ([self.flush[1]] if self.flush else [])
        )

    def collect(self) -> tuple[bool, bool]:
        """Settle what finished; (something newly written, something newly verified)."""
        path = self.device.path
        wrote = checked = False
        for at, (length, job) in list(self.writes.items()):
            if not job.done():
                continue
            del self.writes[at]
            self.write_lane.stop()
            try:
                done = job.result()
            except OSError as error:
                raise io_error("d'écriture", path, at, error) from None
            if done != length:
                raise WipeError(f"Écriture incomplète sur {path} à l'octet {at}.")
            self.done_writes[at] = length
        while self.written in self.done_writes:
            self.written += self.done_writes.pop(self.written)
            wrote = True
        if self.flush is not None and self.flush[1].done():
            upto, job = self.flush
            self.flush = None
            self.write_lane.stop()
            try:
                job.result()
            except OSError as error:
                raise io_error("de synchronisation", path, upto, error) from None
            self.flushed = upto
            if upto == self.size:
                self.timing.write_seconds = time.monotonic() - (self.write_lane.first or 0.0)
        for at, (length, buffer, job) in list(self.reads.items()):
            if not job.done():
                continue
            del self.reads[at]
            self.free.append(buffer)
            self.read_lane.stop()
            try:
                got = job.result()
            except OSError as error:
                raise io_error("de lecture", path, at, error) from None
            if got == -1:
                self.mismatch = at if self.mismatch is None else min(at, self.mismatch)
            elif got != length:
                raise WipeError(f"Lecture incomplète de {path} à l'octet {at}.")
            else:
                self.verified.append((at, length))
                checked = True
        if self.mode.startswith("probe") or (self.mode == "overlap" and self.timing.probe):
            self._probe()
        return wrote, checked

    def _probe(self) -> None:
        """Write alone (a), with the read-back trailing (b), alone again (c); keep overlapping
        while the writer keeps OVERLAP_KEEPS of its better lone pace (full-duplex devices),
        else read back after the last flush. A wrong overlap costs the most: doubt goes to
        "after", and an overlap kept is checked again every FLUSH_EVERY chunks."""
        now = time.monotonic()
        # Windows start once the pool is warm (a), reads are in flight (b), reads drained (c).
        if (
            (self.mode == "probe-a" and self.written < DEPTH * self.chunk)
            or (self.mode == "probe-b" and self.read_lane.first is None)
            or (self.mode == "probe-c" and self.reads)
        ):
            self.probe_at = (now, self.written)
            return
        started, base = self.probe_at
        seconds, wrote = now - started, self.written - base
        window = FLUSH_EVERY if self.mode == "overlap" else PROBE_CHUNKS
        if seconds < PROBE_SECONDS or wrote < window * self.chunk:
            return
        rates = self.timing.probe
        rates[self.mode] = wrote / seconds
        self.probe_at = (now, self.written)
        following = {"probe-a": "probe-b", "probe-b": "probe-c"}
        if self.mode in following:
            self.mode = following[self.mode]
            return
        lone = max(rates["probe-a"], rates.get("probe-c", 0.0))
        kept = rates["overlap" if self.mode == "overlap" else "probe-b"] / lone
        self.mode = "overlap" if kept >= OVERLAP_KEEPS else "after"
        self.timing.mode = "overlap" if kept >= OVERLAP_KEEPS else "after (measured)"

    def bytes_verified(self) -> int:
        """Bytes read back and found right, up to the first range that differs."""
        limit = self.size if self.mismatch is None else self.mismatch
        return sum(length for at, length in self.verified if at < limit)

    def finished(self) -> bool:
        if self.mismatch is not None:
            return not self.writes and not self.reads and self.flush is None
        return self.flushed == self.size and self.next_range == len(self.ranges) and not self.reads


def run_pass(
    device: Device,
    block: bytes,
    ranges: list[tuple[int, int]],
    *,
    chunk: int,
    mode: str,
    write: bool = True,
    tickers: tuple[Ticker | None, Ticker | None] = (None, None),
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[int, int, int | None, Timing]:
    """Write `block` over the device (unless `write` is False) and read `ranges` back:
    (bytes written, bytes verified, offset of the first range that differs or None, timing).

    The read-back ticker speaks only once every write is flushed: one phase at a time.
    """
    drop_cache(device)
    line = Pipeline(device, block, ranges, chunk=chunk, mode=mode, write=write)
    writing, reading = tickers
    announced = False
    try:
        with ThreadPoolExecutor(max_workers=2 * DEPTH + 1) as pool:
            while not line.finished():
                if stop():
                    raise WipeError("Effacement arrêté avant la fin.", status="interrupted")
                device.check()
                wait(line.submit(pool), return_when=FIRST_COMPLETED)
                wrote, checked = line.collect()
                if wrote and writing is not None:
                    writing.update(line.written)
                if not announced and line.flushed == device.size:
                    announced = True
                    if write and device.watch is not None:
                        device.watch.check(device.path, force=True)
                    if writing is not None:
                        writing.update(line.written, final=True)
                    if reading is not None:
                        reading.callback = progress
                if checked and reading is not None:
                    reading.update(line.bytes_verified())
    finally:
        for buffer in line.free:
            buffer.close()
    if reading is not None:
        reading.update(line.bytes_verified(), final=True)
    timing = line.timing
    if line.mode == "probe-b":  # too small to decide: the read-back trailed the writes
        timing.mode = "overlap"
    timing.verify_seconds = line.read_lane.busy
    if line.read_lane.first is not None:
        timing.verify_span = time.monotonic() - line.read_lane.first
    return line.written, line.bytes_verified(), line.mismatch, timing


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
    overlap: bool | None = None,
) -> ClearResult:
    """Overwrite every addressable byte of `path`, then read it back; raise WipeError on failure.

    A full read-back of the last pass trails its writing when `overlap` is True, follows it when
    False; None measures which is faster on this device (`Pipeline`, mode "probe").
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
        if verify != "full" or overlap is False:
            mode = "after"
        elif overlap or device.size < PROBE_MIN_SIZE:
            mode = "overlap"
        else:
            mode = "probe"
        started = time.monotonic()
        for step, one in enumerate(passes[:-1], start=1):
            writing = Ticker("write", step, steps, device.size, progress)
            run_pass(device, one.block, [], chunk=chunk, mode="after", tickers=(writing, None),
                     stop=stop)  # fmt: skip
        before = time.monotonic()
        if verify == "full":
            ranges = full_ranges(device.size, chunk)
        else:
            ranges = sample_ranges(device.size, seed)
        total = sum(length for _, length in ranges)
        tickers = (
            Ticker("write", len(passes), steps, device.size, progress),
            Ticker("verify", steps, steps, total, None),  # speaks once writing is done
        )
        written, checked, mismatch, timing = run_pass(
            device, passes[-1].block, ranges, chunk=chunk, mode=mode, tickers=tickers,
            progress=progress, stop=stop,
        )  # fmt: skip
        if device.watch is not None:
            device.watch.check(path, force=True)
        details: dict[str, object] = {"read_back": timing.mode}
        details["verify_span_seconds"] = round(timing.verify_span, 3)
        if timing.probe:
            details["probe_write_mb_s"] = {
                name: round(rate / 1e6) for name, rate in timing.probe.items()
            }
        if mismatch is not None:
            details["mismatch_offset"] = mismatch
        return ClearResult(
            size_bytes=device.size,
            bytes_written=written,  # short of the size only when a mismatch stopped it
            passes=[p.name for p in passes],
            verify_mode=verify,
            verified_bytes=checked,
            verify_passed=mismatch is None,
            direct_io=device.direct,
            sector_size=device.sector,
            sample_seed=seed if verify == "sample" or scheme != "zeros" else None,
            write_seconds=before - started + timing.write_seconds,
            verify_seconds=timing.verify_seconds,
            overlapped=timing.mode == "overlap",
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
        if overlap is None and identity.rotational and not identity.is_loop:
            overlap = False  # otherwise the engine measures which is faster (`clear`)
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
