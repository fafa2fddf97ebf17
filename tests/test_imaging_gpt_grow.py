"""The finish step grows the GPT without sgdisk: stock sgdisk must find the result sound."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from provisioning.imaging.target_partitions import gpt_partitions, grow_gpt

MIB = 2**20
# `make test` installs gdisk; under CI=true a missing sgdisk fails rather than skips.
pytestmark = pytest.mark.skipif(
    shutil.which("sgdisk") is None and os.environ.get("CI") != "true",
    reason="sgdisk (gdisk) absent",
)


def _disk(path: Path, image_mib: int = 64, disk_mib: int = 160) -> Path:
    """An image's GPT (ESP then root) on a disk larger than the image, as after a deployment."""
    path.write_bytes(b"")
    subprocess.run(["truncate", "-s", f"{image_mib}M", str(path)], check=True)
    subprocess.run(
        ["sgdisk", "-n1:2048:+8M", "-t1:EF00", "-n2:0:0", "-t2:8300", "-c2:racine", str(path)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["truncate", "-s", f"{disk_mib}M", str(path)], check=True)
    return path


def test_last_partition_fills_the_disk_and_sgdisk_finds_no_problem(tmp_path):
    disk = _disk(tmp_path / "disk.img")
    before = {p["number"]: p for p in gpt_partitions(str(disk))}
    grown = grow_gpt(str(disk))
    sectors = 160 * MIB // 512
    assert grown["number"] == 2 and grown["last"] == sectors - 34
    after = {p["number"]: p for p in gpt_partitions(str(disk))}
    assert after[1] == before[1]
    assert {k: v for k, v in after[2].items() if k != "last"} == {
        k: v for k, v in before[2].items() if k != "last"
    }
    check = subprocess.run(["sgdisk", "-v", str(disk)], capture_output=True, text=True)
    assert "No problems found" in check.stdout, check.stdout
    with open(disk, "rb") as f:
        mbr = f.read(512)
    assert struct.unpack_from("<I", mbr, 446 + 12)[0] == sectors - 1  # protective MBR too


def test_a_corrupt_table_is_refused_and_left_alone(tmp_path):
    disk = _disk(tmp_path / "disk.img")
    with open(disk, "r+b") as f:
        f.seek(2 * 512 + 56)  # the first entry's name: the entries' CRC no longer matches
        f.write(b"X")
    before = disk.read_bytes()
    with pytest.raises(RuntimeError, match="corrompue"):
        grow_gpt(str(disk))
    assert disk.read_bytes() == before
