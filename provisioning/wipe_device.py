"""The block device under a wipe: exclusive direct-I/O access, its watch, progress, markers.

Standard library only, like wipe.py: it travels beside it to the live system.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import random
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

MiB = 1 << 20
WATCH_INTERVAL = 0.5  # seconds between checks that the device is still the one we opened
BLKGETSIZE64 = 0x80081272
BLKSSZGET = 0x1268
MARKER_SIZE = 4096

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


def io_error(action: str, path: str, offset: int, error: OSError) -> WipeError:
    return WipeError(
        f"Erreur {action} sur {path} à l'octet {offset} : {error.strerror} "
        "(disque retiré ou défaillant ?)."
    )


def filled_buffer(size: int, block: bytes) -> mmap.mmap:
    """A page-aligned buffer (as O_DIRECT needs) holding `block` repeated."""
    buffer = mmap.mmap(-1, size)
    buffer.write(block * (size // len(block)))
    return buffer


def drop_cache(device: Device) -> None:
    # Without O_DIRECT, reading back must not be served from the page cache we just filled.
    if not device.direct:
        os.posix_fadvise(device.fd, 0, 0, os.POSIX_FADV_DONTNEED)


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
    drop_cache(device)
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
