"""Images and block maps, host-key pins, profiles, disk choice, inventory parsing."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import paramiko
import pytest
import zstandard
from click.testing import CliRunner

from tests.support import run, unavailable

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


def fake_sysfs(root: Path, nodes: Path) -> dict[str, Path]:
    """A sysfs tree laid out as the kernel lays it out, with device nodes for its block devices.

    loop1 (partitions loop1p1, loop1p2), loop12 (a disk of its own, over another file), loop17
    (a loop device over loop1's node: bytes 1 MiB..17 MiB) and nvme0n1 (nvme0n1p1, nvme0n1p2).
    """
    devices = {
        "loop1": ("devices/virtual/block/loop1", "7:1", None),
        "loop1p1": ("devices/virtual/block/loop1/loop1p1", "259:0", ("1", "2048", "32768")),
        "loop1p2": ("devices/virtual/block/loop1/loop1p2", "259:1", ("2", "34816", "96256")),
        "loop12": ("devices/virtual/block/loop12", "7:12", None),
        "loop17": ("devices/virtual/block/loop17", "7:17", None),
        "nvme0n1": (
            "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1",
            "259:2",
            None,
        ),
        "nvme0n1p1": (
            "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p1",
            "259:3",
            ("1", "2048", "1048576"),
        ),
        "nvme0n1p2": (
            "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p2",
            "259:4",
            ("2", "1050624", "999161856"),
        ),
    }
    paths = {}
    for sub in ("block", "class/block", "dev/block"):
        (root / sub).mkdir(parents=True)
    for name, (where, dev, partition) in devices.items():
        directory = root / where
        for sub in ("holders", "power", "queue") if partition is None else ("holders", "power"):
            (directory / sub).mkdir(parents=True)
        (directory / "dev").write_text(f"{dev}\n")
        (directory / "uevent").write_text(f"DEVNAME={name}\n")
        if partition is not None:
            for key, value in zip(("partition", "start", "size"), partition, strict=True):
                (directory / key).write_text(f"{value}\n")
        else:
            (root / "block" / name).symlink_to(Path("..") / where)
        (root / "class/block" / name).symlink_to(Path("../..") / where)
        (root / "dev/block" / dev).symlink_to(Path("../..") / where)
        major, minor = (int(n) for n in dev.split(":"))
        node = nodes / name
        os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(major, minor))
        paths[name] = node
    for name, backing, offset, limit in (
        ("loop1", "/var/tmp/disque.img", 0, 0),
        ("loop12", "/var/tmp/autre-appareil.img", 0, 0),
        ("loop17", str(paths["loop1"]), 2**20, 16 * 2**20),
    ):
        loop = root / devices[name][0] / "loop"
        loop.mkdir()
        (loop / "backing_file").write_text(f"{backing}\n")
        (loop / "offset").write_text(f"{offset}\n")
        (loop / "sizelimit").write_text(f"{limit}\n")
    return paths


@pytest.fixture
def sysfs(tmp_path):
    if os.geteuid() != 0:
        unavailable("mknod of block device nodes needs root")
    nodes = tmp_path / "dev"
    nodes.mkdir()
    return tmp_path / "sys", fake_sysfs(tmp_path / "sys", nodes)


def test_partitions_are_read_from_sysfs_never_from_the_disk_name(sysfs):
    from provisioning.imaging import target_partitions as tp

    root, node = sysfs
    loop1 = tp.disk_dir(str(node["loop1"]), str(root))
    assert tp.sysfs_partitions(loop1) == {1: "loop1p1", 2: "loop1p2"}
    assert tp.partition_extent(loop1, "loop1p2") == (34816, 96256)
    nvme = tp.disk_dir(str(node["nvme0n1"]), str(root))
    assert tp.sysfs_partitions(nvme) == {1: "nvme0n1p1", 2: "nvme0n1p2"}
    # loop12 is a disk of its own, not loop1's partition 2; it has no partitions.
    assert tp.sysfs_partitions(tp.disk_dir(str(node["loop12"]), str(root))) == {}
    with pytest.raises(tp.NotOurs, match="est une partition, pas un disque entier"):
        tp.disk_dir(str(node["loop1p2"]), str(root))


def test_a_node_is_used_only_when_it_is_that_partition_of_that_disk(sysfs):
    from provisioning.imaging import target_partitions as tp

    root, node = sysfs
    disk = str(node["loop1"])
    tp.check_partition_node(str(node["loop1p2"]), disk, 2, str(root))
    for candidate, number in (("loop12", 2), ("loop1p1", 2), ("nvme0n1p2", 2), ("loop17", 2)):
        with pytest.raises(tp.NotOurs, match="n'est pas la partition 2 de"):
            tp.check_partition_node(str(node[candidate]), disk, number, str(root))
    with pytest.raises(tp.NotOurs, match="n'est pas un périphérique bloc"):
        tp.check_partition_node("/dev/null", disk, 2, str(root))


def test_a_loop_device_is_used_only_over_that_range_of_that_disk(sysfs):
    from provisioning.imaging import target_partitions as tp

    root, node = sysfs
    disk = str(node["loop1"])
    tp.check_loop_node(str(node["loop17"]), disk, 2**20, 16 * 2**20, str(root))
    refusals = [
        (node["loop17"], disk, 2**20, 15 * 2**20),  # another size
        (node["loop17"], disk, 0, 16 * 2**20),  # another offset
        (node["loop17"], str(node["nvme0n1"]), 2**20, 16 * 2**20),  # another disk
        (node["loop12"], disk, 0, 0),  # over another file
        (node["loop1p2"], disk, 2**20, 16 * 2**20),  # not a loop device
    ]
    for candidate, owner, offset, size in refusals:
        with pytest.raises(tp.NotOurs, match="ne couvre pas les octets"):
            tp.check_loop_node(str(candidate), owner, offset, size, str(root))
    assert tp.loops_over(disk, str(root)) == ["loop17"]


@pytest.fixture
def gpt_image(tmp_path):
    """The test image (GPT, ext4 root in partition 2) in a 64 MiB file: room to grow."""
    from tests.sshtargets import build_test_image, can_run

    if why := can_run():
        unavailable(why)
    path = tmp_path / "disque.img"
    build_test_image(path)
    os.truncate(path, 64 * 2**20)
    return path


def _spec(tag: str) -> dict:
    from provisioning.imaging import personalise, profiles

    image = {"name": "debian", "version": "12", "map_sha256": "ab"}
    return personalise.spec_for(tag, profiles.get_profile("famille"), image)


def test_the_agent_leaves_alone_a_device_named_like_the_guessed_partition(tmp_path, gpt_image):
    """`/dev/loopN` + partition 2 is `/dev/loopN2`: another program's disk, never ours."""
    from provisioning.imaging.target_agent import finish, gpt_partitions
    from tests.sshtargets import attached, digest, foreign_device
    from tests.test_imaging_deploy_db import root_file

    with attached(gpt_image) as disk, foreign_device(f"{disk}2", tmp_path) as foreign:
        before = digest(foreign)
        result = finish(disk, _spec("RE-000042-X"))
        assert digest(foreign) == before
        root = {p["number"]: p for p in gpt_partitions(disk)}[2]
        assert result["root_partition"] == 2 and root["last"] == 64 * 2**20 // 512 - 34
        assert root_file(disk, root, "/etc/hostname").strip() == "re-000042-x"


def test_the_agent_refuses_a_node_that_is_not_the_disk_and_writes_nothing(
    tmp_path, gpt_image, monkeypatch, capsys
):
    import io
    import subprocess

    from provisioning.imaging import target_partitions as tp
    from provisioning.imaging.target_agent import gpt_partitions, main
    from tests.sshtargets import attached, digest, foreign_device

    with attached(gpt_image, partscan=True) as disk, foreign_device(f"{disk}2", tmp_path) as other:
        # Whether or not this kernel reads GPT itself, BLKPG gives the disk its partition nodes.
        subprocess.run(["partx", "-a", disk], capture_output=True)
        names = tp.sysfs_partitions(tp.disk_dir(disk))
        assert set(names) == {1, 2}
        p2 = f"/dev/{names[2]}"
        root = {p["number"]: p for p in gpt_partitions(disk)}[2]
        offset, size = root["first"] * 512, (root["last"] - root["first"] + 1) * 512
        tp.check_partition_node(p2, disk, 2)
        before = {node: digest(node) for node in (disk, other)}
        with pytest.raises(tp.NotOurs, match=f"{other} n'est pas la partition 2 de {disk}"):
            tp.check_partition_node(other, disk, 2)
        with pytest.raises(tp.NotOurs, match=f"{other} ne couvre pas les octets {offset}"):
            tp.check_loop_node(other, disk, offset, size)
        with pytest.raises(tp.NotOurs, match="n'est pas la partition 1"):
            tp.check_partition_node(p2, disk, 1)
        (tmp_path / "map.json").write_text('{"size": 0, "ranges": []}')
        for command in (["finish", p2], ["write", p2, str(tmp_path / "map.json")]):
            monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(_spec("RE-000043-Y"))))
            assert main(["agent.py", *command]) == 1
            error = json.loads(capsys.readouterr().out)["error"]
            assert error == f"{p2} est une partition, pas un disque entier : rien n'y sera écrit"
        assert {node: digest(node) for node in (disk, other)} == before
