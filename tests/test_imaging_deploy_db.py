"""Deployment to real sshd targets in network namespaces, loop devices as their disks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.sshtargets import Lab, attached, build_test_image, can_run, digest, foreign_device
from tests.support import new_donation, run

pytestmark = pytest.mark.db

_why = can_run()
if _why and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.db, pytest.mark.skip(reason=_why)]


async def wiped_devices(count: int) -> list[str]:
    from inventory import devices

    tags = await new_donation(count)
    for tag in tags:
        device = await devices.get_device(tag)
        disk_id = await devices.add_disk(
            device["id"], model="SSD", serial=f"S-{tag}", size_bytes=64 * 2**20
        )
        await devices.apply_transition(tag, "triage", "test")
        await devices.record_disk_sanitized(disk_id, True, "test", {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", "test")
    return tags


@pytest.fixture(scope="module")
def raw_image():
    path = Path(tempfile.mkdtemp(prefix="reemploi-raw-", dir="/var/tmp")) / "test.img"
    try:
        build_test_image(path)
        yield path
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()


async def add_image(raw: Path, name: str = "debian-test"):
    from provisioning.imaging import images

    return await images.add_image(name, raw, version="12.8", actor="test")


async def enrol_all(lab: Lab) -> None:
    from provisioning.imaging import hostkeys

    for target in lab.targets:
        key = hostkeys.parse_public_key(target.public_key_line())
        await hostkeys.enrol(target.host, key, actor="test")


def options(lab: Lab, **extra):
    from provisioning.imaging.deploy import Options

    assert lab.client_key is not None
    return Options(pkey=lab.client_key, actor="test", open_socket=lab.open_socket, **extra)


def targets_for(lab: Lab, tags: list[str]):
    from provisioning.imaging.deploy import Target

    return [
        Target(host=t.host, tag=tag, disk=t.disk) for t, tag in zip(lab.targets, tags, strict=False)
    ]


def read_range(disk: str, offset: int, length: int) -> bytes:
    fd = os.open(disk, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def root_file(disk: str, part: dict, path: str) -> str:
    """A file of the target's ext4 root, read with debugfs from a copy of the partition."""
    with tempfile.NamedTemporaryFile(dir="/var/tmp") as copy:
        start, count = part["first"] * 512, (part["last"] - part["first"] + 1) * 512
        subprocess.run(
            [
                "dd",
                f"if={disk}",
                f"of={copy.name}",
                "bs=1M",
                f"skip={start}",
                f"count={count}",
                "iflag=skip_bytes,count_bytes",
                "status=none",
            ],
            check=True,
        )
        done = subprocess.run(
            ["debugfs", "-R", f"cat {path}", copy.name], capture_output=True, text=True
        )
        fsck = subprocess.run(["e2fsck", "-fn", copy.name], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stdout
        return done.stdout


def test_four_targets_in_parallel(db, raw_image):
    from inventory import devices
    from provisioning.imaging import images
    from provisioning.imaging.target_agent import gpt_partitions

    image = run(add_image(raw_image))
    block_map = images.load_map(image)
    tags = run(wiped_devices(4))
    with Lab(4) as lab:
        run(enrol_all(lab))
        finished = run(
            __import__("provisioning.imaging.deploy", fromlist=["deploy"]).deploy(
                "debian-test", "ecole", targets_for(lab, tags), options(lab)
            )
        )
        assert [j["status"] for j in finished] == ["passed"] * 4, [j["reason"] for j in finished]
        seen = {"hostname": set(), "machine-id": set(), "keys": set()}
        for job, target, tag in zip(finished, lab.targets, tags, strict=True):
            assert job["bytes_done"] == job["bytes_total"] == image["compressed_bytes"]
            assert [s["phase"] for s in job["steps"]][-1] == "done"
            parts = {p["number"]: p for p in gpt_partitions(target.disk)}
            # Independent read: every range outside the GPT and the personalised root matches.
            esp = parts[1]
            inside = [
                r
                for r in block_map.ranges
                if r.offset >= esp["first"] * 512 and r.offset + r.length <= (esp["last"] + 1) * 512
            ]
            assert sum(r.length for r in inside) >= 12 * 2**20
            for r in inside:
                data = read_range(target.disk, r.offset, r.length)
                assert hashlib.sha256(data).hexdigest() == r.sha256
            # GPT repaired (backup at the disk's end) and root grown to the end.
            assert parts[2]["last"] == lab.disk_bytes // 512 - 34
            check = subprocess.run(["sgdisk", "-v", target.disk], capture_output=True, text=True)
            assert "No problems found" in check.stdout
            hostname = root_file(target.disk, parts[2], "/etc/hostname").strip()
            assert hostname == tag.lower()
            seen["hostname"].add(hostname)
            seen["machine-id"].add(root_file(target.disk, parts[2], "/etc/machine-id").strip())
            seen["keys"].add(root_file(target.disk, parts[2], "/etc/ssh/ssh_host_ed25519_key.pub"))
            asset = root_file(target.disk, parts[2], "/etc/reemploi/asset.json")
            assert tag in asset and "support_contact" in asset
            passwd = root_file(target.disk, parts[2], "/etc/passwd")
            assert "parent:x:1000" in passwd and "enfant:x:1001" in passwd
            assert "fr_FR.UTF-8" in root_file(target.disk, parts[2], "/etc/default/locale")
            assert 'XKBLAYOUT="fr"' in root_file(target.disk, parts[2], "/etc/default/keyboard")
            device = run(devices.get_device(tag))
            assert device["state"] == "imaged"
            assert "hardware" in device["facts"] and "disks" in device["facts"]["hardware"]
            events = run(devices.device_events(device["id"]))
            proof = [e for e in events if e["kind"] == "imaging_result"][-1]
            assert proof["payload"]["map_sha256"] == image["map_sha256"]
            assert proof["payload"]["version"] == "12.8"
        assert all(len(v) == 4 for v in seen.values()), seen
        assert "0123456789abcdef0123456789abcdef" not in seen["machine-id"]


def _deploy(lab: Lab, tags: list[str], **extra):
    from provisioning.imaging.deploy import deploy

    return run(deploy("debian-test", "famille", targets_for(lab, tags), options(lab, **extra)))


def _imaging_events(tag: str) -> list[dict]:
    from inventory import devices

    device = run(devices.get_device(tag))
    return [e for e in run(devices.device_events(device["id"])) if e["kind"] == "imaging_result"]


def test_wrong_or_unknown_host_key_is_refused_and_nothing_written(db, raw_image):
    import paramiko

    from inventory import devices
    from provisioning.imaging import hostkeys

    run(add_image(raw_image))
    tags = run(wiped_devices(1))
    with Lab(1) as lab:
        target = lab.targets[0]
        seen = hostkeys.fingerprint(hostkeys.parse_public_key(target.public_key_line()))
        [job] = _deploy(lab, tags)
        assert job["status"] == "failed"
        assert "inconnue" in job["reason"] and seen in job["reason"]
        run(hostkeys.enrol(target.host, paramiko.ECDSAKey.generate(), actor="test"))
        [job] = _deploy(lab, tags)
        assert job["status"] == "failed"
        assert "a changé" in job["reason"] and seen in job["reason"]
        assert job["phase"] == "connect" and job["bytes_done"] == 0
        with open(target.disk, "rb") as disk:
            assert disk.read() == bytes(lab.disk_bytes)
    assert run(devices.get_device(tags[0]))["state"] == "wiped"
    assert _imaging_events(tags[0]) == []


def test_connection_killed_mid_transfer_fails_then_rerun_succeeds(db, raw_image):
    from inventory import devices

    image = run(add_image(raw_image))
    tags = run(wiped_devices(1))
    with Lab(1) as lab:
        run(enrol_all(lab))
        killed = []

        def cut(job_id, progress):
            if not killed and progress.bytes_done >= image["compressed_bytes"] // 3:
                killed.append(progress.bytes_done)
                lab.kill_sessions(lab.targets[0])

        [job] = _deploy(lab, tags, observer=cut)
        assert killed, "the transfer ended before the cut"
        assert job["status"] == "failed" and job["phase"] == "transfer"
        assert "connexion" in job["reason"] or "perdue" in job["reason"], job["reason"]
        assert job["bytes_done"] < image["compressed_bytes"]
        assert run(devices.get_device(tags[0]))["state"] == "wiped"
        assert _imaging_events(tags[0]) == []
        [again] = _deploy(lab, tags)
        assert again["status"] == "passed", again["reason"]
    assert run(devices.get_device(tags[0]))["state"] == "imaged"
    assert [e["payload"]["verified"] for e in _imaging_events(tags[0])] == [True]


def test_unwiped_device_is_wiped_over_ssh_then_imaged(db, raw_image):
    from inventory import devices
    from provisioning.tables import SanitizationRecord
    from tests.support import new_donation

    run(add_image(raw_image))
    (tag,) = run(new_donation(1))
    run(devices.apply_transition(tag, "triage", "test"))
    secret = b"donnees du donateur " * 100
    hole = 2**20 + 6 * 2**20 + 2**19  # in partition 1's hole: the image does not write it
    with Lab(1) as lab:
        run(enrol_all(lab))
        with open(lab.targets[0].disk, "r+b") as disk:
            disk.seek(hole)
            disk.write(secret)
        [job] = _deploy(lab, [tag])
        assert job["status"] == "passed", job["reason"]
        assert "wipe" in [s["phase"] for s in job["steps"]]
        assert read_range(lab.targets[0].disk, hole, len(secret)) == bytes(len(secret))
    [record] = run(SanitizationRecord.select().where(SanitizationRecord.asset_tag == tag))
    assert record["status"] == "passed" and record["certificate_id"]
    assert record["verification_result"] == "passed" and record["signature"]
    assert run(devices.get_device(tag))["state"] == "imaged"


def test_a_device_named_like_a_guessed_partition_is_never_written(db, raw_image, tmp_path):
    """The disk `/dev/loopN` has no partition nodes; `/dev/loopN2` is another program's disk."""
    run(add_image(raw_image))
    tags = run(wiped_devices(1))
    with Lab(1) as lab:
        run(enrol_all(lab))
        target = lab.targets[0]
        with foreign_device(f"{target.disk}2", tmp_path) as foreign:
            before = digest(foreign)
            [job] = _deploy(lab, tags)
            assert job["status"] == "passed", job["reason"]
            assert digest(foreign) == before
        from provisioning.imaging.target_agent import gpt_partitions

        root = {p["number"]: p for p in gpt_partitions(target.disk)}[2]
        assert root_file(target.disk, root, "/etc/hostname").strip() == tags[0].lower()


def test_a_partition_given_as_the_disk_fails_the_job_and_is_not_written(db, raw_image, tmp_path):
    import subprocess

    from inventory import devices
    from provisioning.imaging import target_partitions as tp

    run(add_image(raw_image))
    tags = run(wiped_devices(1))
    disk_file = tmp_path / "disque.img"
    disk_file.write_bytes(raw_image.read_bytes())
    with Lab(1) as lab, attached(disk_file, partscan=True) as disk:
        run(enrol_all(lab))
        subprocess.run(["partx", "-a", disk], capture_output=True)
        partition = f"/dev/{tp.sysfs_partitions(tp.disk_dir(disk))[2]}"
        before = digest(disk)
        from provisioning.imaging.deploy import Target, deploy

        target = Target(host=lab.targets[0].host, tag=tags[0], disk=partition)
        [job] = run(deploy("debian-test", "famille", [target], options(lab)))
        assert job["status"] == "failed"
        assert job["reason"] == (
            f"{partition} est une partition, pas un disque entier : rien n'y sera écrit"
        )
        assert digest(disk) == before
    assert run(devices.get_device(tags[0]))["state"] == "wiped"
    assert _imaging_events(tags[0]) == []


def test_cli_deploy_reports_each_target(db, raw_image, monkeypatch):
    from click.testing import CliRunner

    from provisioning.imaging import deploy
    from web.cli import main

    run(add_image(raw_image))
    tags = run(wiped_devices(2))
    with Lab(2) as lab:
        run(enrol_all(lab))
        monkeypatch.setattr(deploy, "OPEN_SOCKET", lab.open_socket)
        good = f"{tags[0]}@{lab.targets[0].host}={lab.targets[0].disk}"
        # The second target names a disk that does not exist there.
        vague = f"{tags[1]}@{lab.targets[1].host}=/dev/reemploi-absent"
        result = CliRunner().invoke(
            main,
            ["image", "deploy", "--image", "debian-test", "--profile", "senior",
             "--key", str(lab.client_key_file), good, vague],
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{tags[0]} (root@{lab.targets[0].host}:22) : réussi" in result.output
    assert f"{tags[1]} (root@{lab.targets[1].host}:22) : échec" in result.output
    assert "reemploi-absent" in result.output
    bad = CliRunner().invoke(
        main, ["image", "deploy", "--image", "x", "--profile", "p", "pas-une-cible"]
    )
    assert bad.exit_code == 2
