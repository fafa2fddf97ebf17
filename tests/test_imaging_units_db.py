"""Images and block maps, host-key pins, profiles, disk choice, inventory parsing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import paramiko
import pytest
import zstandard
from click.testing import CliRunner

from tests.support import run

DATA = Path(__file__).parent / "data" / "imaging"


def sparse_image(path: Path) -> list[tuple[int, bytes]]:
    """8 MiB: data at 0, a zero block (not sparse) at 1 MiB, a hole, data near the end."""
    pieces = [
        (0, os.urandom(200_000)),
        (3 * 2**20, b"reemploi" * 40_000),
        (8 * 2**20 - 4096, b"x" * 4096),
    ]
    with open(path, "wb") as f:
        f.truncate(8 * 2**20)
        f.seek(2**20)
        f.write(bytes(65536))
        for offset, data in pieces:
            f.seek(offset)
            f.write(data)
    return pieces


def test_block_map_skips_zeros_and_holes(tmp_path):
    from provisioning.imaging.blockmap import BLOCK, BlockMap, scan

    raw = tmp_path / "disk.img"
    pieces = sparse_image(raw)
    block_map = scan(raw)
    assert block_map.size == 8 * 2**20
    assert block_map.mapped_bytes < 2**20
    content = raw.read_bytes()
    for r in block_map.ranges:
        assert r.offset % BLOCK == 0
        assert hashlib.sha256(content[r.offset : r.offset + r.length]).hexdigest() == r.sha256
    for offset, _data in pieces:
        assert any(r.offset <= offset < r.offset + r.length for r in block_map.ranges)
    # Everything outside the ranges is zero.
    mapped = bytearray(len(content))
    for r in block_map.ranges:
        mapped[r.offset : r.offset + r.length] = content[r.offset : r.offset + r.length]
    assert bytes(mapped) == content
    again = BlockMap.from_json(json.loads(block_map.canonical()))
    assert again.sha256 == block_map.sha256


@pytest.mark.db
def test_image_add_builds_zstd_stream_and_map(db, tmp_path):
    from inventory.errors import Conflict
    from provisioning.imaging import images

    raw = tmp_path / "disk.img"
    sparse_image(raw)
    row = run(images.add_image("debian-12", raw, version="12.8", actor="test"))
    block_map = images.load_map(row)
    assert row["map_sha256"] == block_map.sha256
    assert row["mapped_bytes"] == block_map.mapped_bytes and row["size_bytes"] == 8 * 2**20
    stream = images.data_path(row).read_bytes()
    assert hashlib.sha256(stream).hexdigest() == row["data_sha256"]
    plain = zstandard.ZstdDecompressor().stream_reader(stream).read()
    content = raw.read_bytes()
    assert plain == b"".join(content[r.offset : r.offset + r.length] for r in block_map.ranges)
    with pytest.raises(Conflict):
        run(images.add_image("debian-12", raw))


@pytest.mark.db
def test_cli_image_add_and_list(db, tmp_path):
    from web.cli import main

    raw = tmp_path / "disk.img"
    sparse_image(raw)
    runner = CliRunner()
    added = runner.invoke(main, ["image", "add", "mint-22", "--from", str(raw), "--version", "22"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["image", "list"])
    assert "mint-22\t22\t8388608" in listed.output
    again = runner.invoke(main, ["image", "add", "mint-22", "--from", str(raw)])
    assert again.exit_code == 2 and "existe" in again.output or "déjà" in again.output
    for command in (
        ["image", "--help"],
        ["image", "deploy", "--help"],
        ["image", "enrol-host", "--help"],
    ):
        assert runner.invoke(main, command).exit_code == 0


@pytest.mark.db
def test_pinned_policy_refuses_unknown_and_changed_keys(db):
    from provisioning.imaging import hostkeys

    pinned, other = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    run(hostkeys.enrol("10.0.0.5", pinned, actor="test"))
    policy = hostkeys.PinnedKeyPolicy(run(hostkeys.load_pins()))
    policy.missing_host_key(None, "10.0.0.5", pinned)
    with pytest.raises(hostkeys.HostKeyRefused) as changed:
        policy.missing_host_key(None, "10.0.0.5", other)
    assert "a changé" in str(changed.value) and hostkeys.fingerprint(other) in str(changed.value)
    with pytest.raises(hostkeys.HostKeyRefused) as unknown:
        policy.missing_host_key(None, "10.0.0.6", pinned)
    assert "inconnue" in str(unknown.value) and hostkeys.fingerprint(pinned) in str(unknown.value)
    # The live system's shared key, pinned for every address.
    run(hostkeys.enrol(hostkeys.ANY_HOST, other, actor="test"))
    hostkeys.PinnedKeyPolicy(run(hostkeys.load_pins())).missing_host_key(None, "10.0.0.9", other)


def test_never_auto_add_policy():
    root = Path(__file__).parent.parent / "provisioning" / "imaging"
    source = "".join(p.read_text() for p in root.glob("*.py"))
    assert "AutoAddPolicy(" not in source and "WarningPolicy(" not in source
    assert "set_missing_host_key_policy" not in source


def test_profiles_and_personalisation_spec():
    from inventory.errors import Invalid
    from provisioning.imaging import personalise, profiles

    assert set(profiles.PROFILES) == {"ecole", "famille", "senior", "association"}
    ecole = profiles.get_profile("ecole")
    assert [a.name for a in ecole.accounts] == ["parent", "enfant"]
    spec = personalise.spec_for(
        "RE-000123-K", ecole, {"name": "deb", "version": "12", "map_sha256": "ab"}
    )
    assert spec["hostname"] == "re-000123-k" and spec["locale"] == "fr_FR.UTF-8"
    assert spec["keymap"] == "fr" and spec["asset"]["asset_tag"] == "RE-000123-K"
    assert "sudo" in spec["accounts"][0]["groups"] and "sudo" not in spec["accounts"][1]["groups"]
    with pytest.raises(Invalid):
        profiles.get_profile("inconnu")


def test_choose_disk_refuses_when_ambiguous():
    from provisioning.imaging.target_agent import choose_disk

    ssd = {"path": "/dev/nvme0n1", "removable": False, "transport": "nvme"}
    hdd = {"path": "/dev/sda", "removable": False, "transport": "sata"}
    usb = {"path": "/dev/sdb", "removable": True, "transport": "usb"}
    assert choose_disk([ssd, usb])["path"] == "/dev/nvme0n1"
    with pytest.raises(ValueError, match="ambigu"):
        choose_disk([ssd, hdd, usb])
    with pytest.raises(ValueError, match="aucun"):
        choose_disk([usb])


def test_inventory_parsers_on_genuine_outputs():
    from provisioning.imaging import inventory_collect as c

    smart = c.parse_smartctl((DATA / "smartctl-nvme-intel-ssdpeknw010t8.json").read_text())
    assert smart["model"] == "INTEL SSDPEKNW010T8" and smart["serial"] == "BTNH93710FS91P0B"
    assert smart["size_bytes"] == 1024209543168 and smart["transport"] == "nvme"
    assert smart["power_on_hours"] == 2401 and smart["smart_passed"] is True
    dmi = c.parse_dmidecode((DATA / "dmidecode-hp-dl380p-gen8-excerpt.txt").read_text())
    assert dmi == {"vendor": "HP", "product": "ProLiant DL380p Gen8", "serial": "4242"}
    lshw = c.parse_lshw((DATA / "lshw-build-machine.json").read_text())
    assert lshw["memory_bytes"] > 0 and lshw["cpu"]
    health = c.battery_health([{"name": "BAT0", "full": "42000000", "design": "56000000"}])
    assert health[0]["health_percent"] == 75.0
