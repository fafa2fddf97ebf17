"""The Clear engine on real loop devices filled with random data (root needed).

Reads that judge the result are independent of the engine: `cmp` against /dev/zero, or a
fresh read of the device compared with the expected pattern.
"""

from __future__ import annotations

import json
import mmap
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from provisioning import wipe
from tests.support import unavailable

MiB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent
BLKIO = Path("/sys/fs/cgroup/blkio")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true",
    reason="loop devices need root (CI=true runs them anyway)",
)
pytestmark = needs_root


@contextmanager
def loop_device(folder: Path, size: int, *, random_fill: bool = True) -> Iterator[str]:
    """A loop device over a file in `folder`, full of random bytes; detached afterwards."""
    image = folder / f"disk-{uuid.uuid4().hex[:8]}.img"
    with open(image, "wb") as handle:
        if random_fill:
            for _ in range(size // MiB):
                handle.write(os.urandom(MiB))
        else:
            handle.truncate(size)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)
        image.unlink(missing_ok=True)


def major_minor(device: str) -> str:
    rdev = os.stat(device).st_rdev
    return f"{os.major(rdev)}:{os.minor(rdev)}"


@contextmanager
def throttled(device: str, bytes_per_second: int) -> Iterator[Path]:
    """A blkio cgroup that slows I/O to `device`; yields its cgroup.procs file.

    A real wipe of a small loop device takes a fraction of a second; throttling its I/O is how
    tests catch it halfway (kill -9, detach) without touching the engine.
    """
    if not (BLKIO / "blkio.throttle.write_bps_device").exists():
        unavailable("no blkio cgroup to slow the device down")
    group = BLKIO / f"reemploi-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        for name in ("write", "read"):
            (group / f"blkio.throttle.{name}_bps_device").write_text(
                f"{major_minor(device)} {bytes_per_second}"
            )
        yield group / "cgroup.procs"
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def in_cgroup(procs: Path) -> Callable[[], None]:
    def enter() -> None:
        procs.write_text(str(os.getpid()))

    return enter


def cmp_zero(device: str, size: int) -> bool:
    """An independent check: every byte of the device equals /dev/zero's."""
    return subprocess.run(["cmp", "-n", str(size), device, "/dev/zero"]).returncode == 0


def read_all(device: str) -> bytes:
    fd = os.open(device, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        chunks = []
        while chunk := os.read(fd, 8 * MiB):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def test_clear_zeros_full_verification(tmp_path: Path) -> None:
    size = 48 * MiB + 512 * 3  # not a multiple of the chunk: the tail must be written too
    with loop_device(tmp_path, 49 * MiB) as device:
        subprocess.run(["truncate", "-s", str(size), str(next(tmp_path.glob("*.img")))])
        subprocess.run(["losetup", "-c", device], check=True)
        assert not cmp_zero(device, size)
        seen: list[wipe.Progress] = []
        result = wipe.clear(device, verify="full", progress=seen.append, chunk=16 * MiB)
        assert result.size_bytes == size == result.bytes_written == result.verified_bytes
        assert result.verify_passed and result.passes == ["zeros"] and result.direct_io
        assert cmp_zero(device, size)
        phases = {p.phase for p in seen}
        assert phases == {"write", "verify"}
        assert seen[-1].done == seen[-1].total


def test_pattern_then_complement(tmp_path: Path) -> None:
    with loop_device(tmp_path, 8 * MiB) as device:
        result = wipe.clear(device, scheme="pattern-complement", verify="sample", seed=1234)
        assert result.passes == ["pattern", "complement"] and result.verify_passed
        block = random.Random(1234).randbytes(MiB)
        complement = bytes(b ^ 0xFF for b in block)
        assert read_all(device) == complement * 8


def test_sample_verification_reads_ends_and_a_tenth(tmp_path: Path) -> None:
    size = 100 * MiB
    blocks = wipe.sample_blocks(size, seed=7)
    assert blocks[0] == 0 and blocks[-1] == 99 and len(blocks) >= 10
    with loop_device(tmp_path, size) as device:
        result = wipe.clear(device, verify="sample", seed=7)
        assert result.verify_mode == "sample" and result.verify_passed
        assert result.verified_bytes >= size // 10
        assert cmp_zero(device, size)


def test_read_back_finds_a_block_that_does_not_match(tmp_path: Path) -> None:
    with loop_device(tmp_path, 32 * MiB) as device:
        wipe.clear(device, verify="sample")
        fd = os.open(device, os.O_WRONLY)
        os.pwrite(fd, b"\x5a" * 4096, 20 * MiB + 8192)
        os.fsync(fd)
        os.close(fd)
        opened = wipe.Device(device, write=False)
        try:
            ranges = wipe.full_ranges(opened.size, 16 * MiB)
            _, checked, mismatch, _ = wipe.run_pass(
                opened, bytes(MiB), ranges, chunk=16 * MiB, mode="after", write=False
            )
        finally:
            opened.close()
        assert mismatch == 16 * MiB and checked == 16 * MiB


def test_a_mounted_or_claimed_device_is_refused(tmp_path: Path) -> None:
    with loop_device(tmp_path, 8 * MiB) as device:
        holder = wipe.Device(device, write=False)
        try:
            with pytest.raises(wipe.WipeError, match="utilisé"):
                wipe.clear(device)
        finally:
            holder.close()


def test_detach_mid_wipe_fails_with_a_reason(tmp_path: Path) -> None:
    """`losetup -d` while the engine writes: the kernel lets writes go on, the engine stops."""
    with loop_device(tmp_path, 64 * MiB) as device, throttled(device, 16 * MiB) as procs:
        engine = subprocess.Popen(
            [sys.executable, str(ROOT / "provisioning" / "wipe.py"), "clear", device],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=in_cgroup(procs),
        )
        assert engine.stdout is not None
        first = json.loads(engine.stdout.readline())
        assert first["event"] == "progress" and first["phase"] == "write"
        subprocess.run(["losetup", "-d", device], check=True)
        out, _ = engine.communicate(timeout=60)
        last = json.loads(out.strip().splitlines()[-1])
        assert engine.returncode == 1
        assert last["event"] == "error" and last["status"] == "failed"
        assert "détaché" in last["reason"]


def test_markers_tell_a_purge_that_ran_from_one_that_did_not(tmp_path: Path) -> None:
    with loop_device(tmp_path, 16 * MiB) as device:
        offsets = wipe.write_markers(device, seed=99, count=32)
        assert offsets[0] == 0 and offsets[-1] == 16 * MiB - wipe.MARKER_SIZE
        untouched = wipe.check_markers(device, 99, offsets)
        assert untouched["survivors"] == 32 and not untouched["passed"]
        wipe.clear(device, verify="sample")  # what a drive's purge would do to the markers
        erased = wipe.check_markers(device, 99, offsets)
        assert erased["survivors"] == 0 and erased["zeros"] == 32 and erased["passed"]


def test_overlapped_clear_reads_back_while_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 60 * MiB + 4096  # a short last chunk, read back too
    overlapping: list[bool] = []

    class Watched(wipe.Pipeline):
        def submit(self, pool: ThreadPoolExecutor) -> list[Future[Any]]:
            pending = super().submit(pool)
            overlapping.append(bool(self.reads) and self.write_at < self.size)
            return pending

    monkeypatch.setattr(wipe, "Pipeline", Watched)
    monkeypatch.setattr(wipe, "FLUSH_EVERY", 1)
    with loop_device(tmp_path, 61 * MiB) as device:
        subprocess.run(["truncate", "-s", str(size), str(next(tmp_path.glob("*.img")))])
        subprocess.run(["losetup", "-c", device], check=True)
        seen: list[wipe.Progress] = []
        result = wipe.clear(device, verify="full", progress=seen.append, chunk=4 * MiB)
        assert result.overlapped and result.verify_passed and any(overlapping)
        assert result.bytes_written == result.verified_bytes == size == result.size_bytes
        assert cmp_zero(device, size)
        phases = [p.phase for p in seen]
        # Reading starts early, but speaks only once every write is flushed: one phase at a time.
        assert phases.index("verify") > max(i for i, p in enumerate(phases) if p == "write")
        assert seen[-1].phase == "verify" and seen[-1].done == size
        assert 0 < result.verify_seconds <= result.total_seconds


def test_overlapped_read_back_reports_the_first_range_that_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the device gives back is compared with what should be there: the third chunk
    differs, the run stops there, and nothing beyond what was written is claimed."""

    class Corrupted(wipe.Pipeline):
        """A drive that acknowledges the third chunk's write but keeps other bytes there."""

        def submit(self, pool: ThreadPoolExecutor) -> list[Future[Any]]:
            if self.write_at == 2 * self.chunk and len(self.writes) < wipe.DEPTH:
                other = mmap.mmap(-1, self.chunk)  # aligned, as O_DIRECT needs
                other.write(b"\x5a" * self.chunk)
                job = pool.submit(os.pwrite, self.device.fd, other, self.write_at)
                self.writes[self.write_at] = (self.chunk, job)
                self.write_at += self.chunk
            return super().submit(pool)

    monkeypatch.setattr(wipe, "Pipeline", Corrupted)
    monkeypatch.setattr(wipe, "FLUSH_EVERY", 1)
    monkeypatch.setattr(wipe, "DEPTH", 2)  # so that a submit round stops at the third chunk
    with loop_device(tmp_path, 32 * MiB) as device:
        result = wipe.clear(device, verify="full", chunk=4 * MiB)
        assert result.overlapped and not result.verify_passed
        assert result.details["mismatch_offset"] == 8 * MiB
        assert result.verified_bytes == 8 * MiB and result.bytes_written <= 32 * MiB


class InFlight:
    """Counts the engine's requests in flight (each held a little, so that concurrent ones
    meet) and notes what the flushes covered; one chunk is written with other bytes."""

    def __init__(self, corrupt_at: int) -> None:
        self.lock = threading.Lock()
        self.now = {"write": 0, "read": 0}
        self.most = {"write": 0, "read": 0}
        self.written: set[int] = set()
        self.flushed: set[int] = set()
        self.read_early: list[int] = []
        self.corrupt_at = corrupt_at
        self.real = (wipe._write, wipe._read_check, os.fdatasync)

    def _enter(self, kind: str) -> None:
        with self.lock:
            self.now[kind] += 1
            self.most[kind] = max(self.most[kind], self.now[kind])

    def _leave(self, kind: str) -> None:
        with self.lock:
            self.now[kind] -= 1

    def write(self, fd: int, source: memoryview, offset: int) -> int:
        self._enter("write")
        try:
            time.sleep(0.02)
            if offset == self.corrupt_at:  # a drive that acknowledges but keeps other bytes
                other = mmap.mmap(-1, len(source))  # aligned, as O_DIRECT needs
                other.write(b"\x5a" * len(source))
                return self.real[0](fd, memoryview(other), offset)
            return self.real[0](fd, source, offset)
        finally:
            with self.lock:
                self.written.add(offset)
            self._leave("write")

    def read(self, fd: int, buffer: mmap.mmap, expected: bytearray, at: int, n: int) -> int:
        with self.lock:
            if at not in self.flushed:
                self.read_early.append(at)
        self._enter("read")
        try:
            time.sleep(0.02)
            return self.real[1](fd, buffer, expected, at, n)
        finally:
            self._leave("read")

    def fdatasync(self, fd: int) -> None:
        with self.lock:
            covered = set(self.written)  # what was written before this flush was issued
        self.real[2](fd)
        with self.lock:
            self.flushed |= covered


@pytest.mark.parametrize("overlap", [True, False, None])
def test_several_requests_in_flight_and_a_corrupted_range_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overlap: bool | None
) -> None:
    """Writes and reads really are concurrent (up to DEPTH each), a range is read only after
    a flush that followed its write, and the chunk the drive did not keep is reported, with
    only the chunks before it counted as verified."""
    chunk = 4 * MiB
    spy = InFlight(corrupt_at=5 * chunk)
    monkeypatch.setattr(wipe, "_write", spy.write)
    monkeypatch.setattr(wipe, "_read_check", spy.read)
    monkeypatch.setattr(os, "fdatasync", spy.fdatasync)
    if overlap is None:  # the measuring mode, on a device small enough for a test
        monkeypatch.setattr(wipe, "PROBE_MIN_SIZE", 0)
        monkeypatch.setattr(wipe, "PROBE_SECONDS", 0.0)
        monkeypatch.setattr(wipe, "PROBE_CHUNKS", 1)
    with loop_device(tmp_path, 64 * MiB) as device:
        result = wipe.clear(device, verify="full", chunk=chunk, overlap=overlap)
    assert spy.most["write"] == wipe.DEPTH >= 2 and spy.most["read"] >= 2
    assert spy.read_early == []
    assert not result.verify_passed and result.details["mismatch_offset"] == 5 * chunk
    assert result.verified_bytes == 5 * chunk
    assert result.details["read_back"] in ("overlap", "after", "after (measured)")
    if overlap is None:
        assert set(result.details["probe_write_mb_s"]) >= {"probe-a", "probe-b"}  # type: ignore[arg-type]


def test_a_hard_disk_reads_back_after_writing_and_a_large_ssd_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-after-write is forced where asked (hard disks); a device big enough is measured
    and the choice is recorded with the probe's figures."""
    with loop_device(tmp_path, 48 * MiB, random_fill=False) as device:
        after = wipe.clear(device, verify="full", overlap=False)
        assert not after.overlapped and after.details["read_back"] == "after"
        assert after.verify_passed and after.verified_bytes == 48 * MiB
        monkeypatch.setattr(wipe, "PROBE_MIN_SIZE", 32 * MiB)
        monkeypatch.setattr(wipe, "PROBE_CHUNKS", 1)
        measured = wipe.clear(device, verify="full", chunk=MiB)
        assert measured.verify_passed and measured.verified_bytes == 48 * MiB
        assert measured.details["read_back"] in ("overlap", "after", "after (measured)")
        assert measured.overlapped == (measured.details["read_back"] == "overlap")
        assert "probe-a" in measured.details["probe_write_mb_s"]  # type: ignore[operator]
        assert cmp_zero(device, 48 * MiB)


def test_the_engine_runs_alone_as_on_the_live_system(tmp_path: Path) -> None:
    """Only the engine's files and the system's python3 (no project on its path), JSON lines
    out; the report maps to a passed outcome that names the disk."""
    from provisioning import job
    from provisioning.imaging import remote_wipe

    live = tmp_path / "live"
    live.mkdir()
    for name in wipe.ENGINE_FILES:
        (live / name).write_bytes((ROOT / "provisioning" / name).read_bytes())
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    with loop_device(tmp_path, 24 * MiB) as device:
        said = subprocess.run(
            [python, "-E", "-s", str(live / "wipe.py"), "identify", device],
            capture_output=True,
            cwd=live,
        )
        identity = remote_wipe.remote_identity(said.stdout, {"path": device})
        assert identity.model == "Loop (fichier image)" and "#" in identity.serial
        assert identity.size_bytes == 24 * MiB and not identity.warnings
        done = subprocess.run(
            [python, "-E", "-s", str(live / "wipe.py"), "clear", device],
            capture_output=True,
            cwd=live,
        )
        assert done.returncode == 0, done.stderr.decode()
        report = remote_wipe.last_report(done.stdout)
        assert report is not None and report["event"] == "result" and report["overlapped"]
        assert report["identity"]["serial"] == identity.serial
        outcome = job.clear_outcome(report, identity.size_bytes)
        assert outcome.status == "passed" and outcome.verification_result == "passed"
        assert outcome.bytes_written == outcome.verified_bytes == 24 * MiB
        assert cmp_zero(device, 24 * MiB)


def test_one_mapping_from_report_to_outcome() -> None:
    from provisioning import job

    lost = job.clear_outcome(None, 10)
    assert lost.status == "failed" and "connexion perdue" in lost.reason
    stopped = {"event": "error", "status": "interrupted", "reason": "Effacement arrêté."}
    assert job.clear_outcome(stopped, 10).status == "interrupted"
    refused = {
        "event": "error",
        "status": "failed",
        "reason": "Le DCO cache des secteurs",
        "hidden_areas": "DCO",
    }
    outcome = job.clear_outcome(refused, 10)
    assert outcome.status == "failed" and outcome.verification_result == "not_run"
    assert outcome.hidden_areas == "DCO" and outcome.reason.startswith("Le DCO")
    good = {
        "event": "result", "scheme": "zeros", "verify": "full", "tool": "t", "bytes_written": 10,
        "verified_bytes": 10, "verify_passed": True, "identity": {"size_bytes": 10},
    }  # fmt: skip
    assert job.clear_outcome(good, 10).status == "passed"
    assert job.clear_outcome({**good, "bytes_written": 9}, 10).status == "failed"
    assert job.clear_outcome({**good, "verified_bytes": 9}, 10).status == "failed"
    bad = job.clear_outcome({**good, "verify_passed": False, "details": {"mismatch_offset": 4}}, 10)
    assert bad.status == "failed" and bad.verification_result == "failed" and "4" in bad.reason
    grown = {**good, "bytes_written": 12, "verified_bytes": 12, "identity": {"size_bytes": 12}}
    assert job.clear_outcome(grown, 10).status == "passed"  # HPA removed: the disk grew
