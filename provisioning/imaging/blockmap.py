"""Block maps: the mapped byte ranges of a raw image, a SHA-256 per range and one of the map.

A block is mapped when it holds anything but zeros; holes of sparse files are skipped without
reading them. Consecutive mapped blocks form a range, cut at `MAX_RANGE` so that each range is
verified (and reported) soon after it is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = 64 * 1024
MAX_RANGE = 32 * 1024 * 1024
_ZERO = bytes(BLOCK)


@dataclass(frozen=True)
class Range:
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class BlockMap:
    size: int
    ranges: tuple[Range, ...]
    block_size: int = BLOCK

    @property
    def mapped_bytes(self) -> int:
        return sum(r.length for r in self.ranges)

    def to_json(self) -> dict:
        return {
            "format": 1,
            "size": self.size,
            "block_size": self.block_size,
            "ranges": [[r.offset, r.length, r.sha256] for r in self.ranges],
        }

    def canonical(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_json(cls, data: dict) -> BlockMap:
        if data.get("format") != 1:
            raise ValueError("format de carte de blocs inconnu")
        ranges = tuple(Range(int(o), int(n), str(h)) for o, n, h in data["ranges"])
        return cls(size=int(data["size"]), ranges=ranges, block_size=int(data["block_size"]))


def _data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the data regions of a file; the whole file when SEEK_DATA is missing."""
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                return
            end = os.lseek(fd, start, os.SEEK_HOLE)
            yield start, min(end, size)
            pos = end
    except (AttributeError, OSError):
        yield pos, size


def scan(path: Path, on_range: Callable[[int, bytes], None] | None = None) -> BlockMap:
    """Map a raw image; `on_range(offset, data)` receives each mapped range's bytes in order."""
    size = path.stat().st_size
    ranges: list[Range] = []
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        current = bytearray()
        start = -1

        def close() -> None:
            nonlocal current, start
            if start >= 0 and current:
                data = bytes(current)
                ranges.append(Range(start, len(data), hashlib.sha256(data).hexdigest()))
                if on_range is not None:
                    on_range(start, data)
            current = bytearray()
            start = -1

        done = 0  # blocks before this offset are mapped or skipped already
        for begin, end in _data_extents(fd, size):
            # Two extents may share a block: it is read once, with the first one.
            begin = max(begin - begin % BLOCK, done)
            if begin >= end:
                continue
            pos = begin
            if start >= 0 and start + len(current) != begin:
                close()
            while pos < end:
                chunk = os.pread(fd, min(4 * 1024 * 1024, end - pos + (-end % BLOCK)), pos)
                if not chunk:
                    break
                for i in range(0, len(chunk), BLOCK):
                    block = chunk[i : i + BLOCK]
                    if block == _ZERO[: len(block)]:
                        close()
                        continue
                    if start < 0:
                        start = pos + i
                    current += block
                    if len(current) >= MAX_RANGE:
                        close()
                pos += len(chunk)
            done = pos
        close()
    return BlockMap(size=size, ranges=tuple(ranges))
