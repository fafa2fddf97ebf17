"""The Clear engine on real loop devices filled with random data (root needed).

Reads that judge the result are independent of the engine: `cmp` against /dev/zero, or a
fresh read of the device compared with the expected pattern.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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
            ticker = wipe.Ticker("verify", 1, 1, opened.size, None)
            expected = bytearray(16 * MiB)
            checked, mismatch = wipe.read_compare(opened, ranges, expected, ticker, lambda: False)
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
