"""Chained deployment to six real sshd PCs on one bridged LAN, loop devices as their disks.

The server streams to the first PC only; each PC writes and forwards to the next over a direct,
token-authenticated TCP hop. Every disk is read back here, independently of the agents.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.sshtargets import Lab, build_test_image, can_run
from tests.support import new_donation, run

pytestmark = pytest.mark.db

_why = can_run()
if _why and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.db, pytest.mark.skip(reason=_why)]

REEMPLOI = str(Path(sys.executable).parent / "reemploi")
MIB = 2**20


@pytest.fixture(scope="module")
def raw_image():
    path = Path(tempfile.mkdtemp(prefix="reemploi-raw-", dir="/var/tmp")) / "chain.img"
    try:
        build_test_image(path, size=112 * MIB, random_bytes=64 * MIB)
        yield path
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()


@pytest.fixture(scope="module")
def lab():
    with Lab(6, disk_bytes=128 * MIB, lan=True, uplink="200mbit") as lab:
        yield lab


async def wiped_devices(count: int) -> list[str]:
    from inventory import devices

    tags = await new_donation(count)
    for tag in tags:
        device = await devices.get_device(tag)
        disk_id = await devices.add_disk(
            device["id"], model="SSD", serial=f"S-{tag}", size_bytes=128 * MIB
        )
        await devices.apply_transition(tag, "triage", "test")
        await devices.record_disk_sanitized(disk_id, True, "test", {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", "test")
    return tags


def prepare(lab: Lab, raw: Path, name: str = "chaine-test") -> tuple[dict, list[str]]:
    from provisioning.imaging import hostkeys, images

    image = run(images.add_image(name, raw, version="12.8", actor="test"))
    for target in lab.targets:
        key = hostkeys.parse_public_key(target.public_key_line())
        run(hostkeys.enrol(target.host, key, actor="test"))
    for target in lab.targets:  # blank disks: what a PC holds must come from this deployment
        with open(target.disk_file, "r+b") as f:
            f.truncate(0)
            f.truncate(lab.disk_bytes)
    return image, run(wiped_devices(len(lab.targets)))


def deploy(lab: Lab, image: dict, tags: list[str], observer=None) -> list[dict]:
    from provisioning.imaging.deploy import Mode, Options, Target, deploy

    assert lab.client_key is not None
    options = Options(
        pkey=lab.client_key, actor="test", open_socket=lab.open_socket, observer=observer
    )
    targets = [
        Target(host=t.host, tag=tag, disk=t.disk) for t, tag in zip(lab.targets, tags, strict=True)
    ]
    return run(deploy(image["name"], "famille", targets, options, Mode.auto))


def esp_ranges_read_back(disk: str, image: dict) -> int:
    """Read the image's ranges inside partition 1 from the disk itself (page cache dropped):
    the number checked; an assertion fails on the first range whose SHA-256 differs."""
    from provisioning.imaging import images
    from provisioning.imaging.target_agent import gpt_partitions

    esp = {p["number"]: p for p in gpt_partitions(disk)}[1]
    start, end = esp["first"] * 512, (esp["last"] + 1) * 512
    checked = 0
    fd = os.open(disk, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        for r in images.load_map(image).ranges:
            if r.offset >= start and r.offset + r.length <= end:
                data = os.pread(fd, r.length, r.offset)
                assert hashlib.sha256(data).hexdigest() == r.sha256, (disk, r.offset)
                checked += r.length
    finally:
        os.close(fd)
    return checked


def self_check() -> None:
    done = subprocess.run(
        [REEMPLOI, "check"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stdout + done.stderr


def assert_imaged(lab: Lab, image: dict, job: dict, index: int) -> None:
    from inventory import devices

    assert job["status"] == "passed", (index, job["reason"])
    assert job["chain"], "a chained job names its chain"
    assert [s["phase"] for s in job["steps"]][-1] == "done"
    assert job["bytes_done"] == job["bytes_total"] == image["compressed_bytes"]
    assert esp_ranges_read_back(lab.targets[index].disk, image) >= 64 * MIB
    check = subprocess.run(
        ["sgdisk", "-v", lab.targets[index].disk], capture_output=True, text=True
    )
    assert "No problems found" in check.stdout
    assert run(devices.get_device(job["asset_tag"]))["state"] == "imaged"


def test_six_pcs_in_one_chain_each_disk_read_back(db, raw_image, lab):
    image, tags = prepare(lab, raw_image)
    finished = deploy(lab, image, tags)
    assert len({j["chain"] for j in finished}) == 1
    for index, job in enumerate(finished):
        assert_imaged(lab, image, job, index)
    self_check()


def test_third_pc_cut_mid_stream_fails_alone_its_successors_are_refed(
    db, raw_image, lab, monkeypatch
):
    from inventory import devices
    from provisioning.imaging import jobs

    image, tags = prepare(lab, raw_image)
    third = lab.targets[2]
    tag_of: dict[int, str] = {}
    cut: list[int] = []
    create = jobs.create

    async def remember(**kwargs):
        job_id = await create(**kwargs)
        tag_of[job_id] = kwargs["tag"]
        return job_id

    def observer(job_id: int, progress) -> None:
        if cut or tag_of.get(job_id) != tags[2]:
            return
        if progress.bytes_done >= image["compressed_bytes"] // 4:
            cut.append(progress.bytes_done)
            lab.kill_sessions(third)

    monkeypatch.setattr(jobs, "create", remember)
    finished = deploy(lab, image, tags, observer)
    assert cut and cut[0] < image["compressed_bytes"], "the third PC was not cut mid-stream"
    failed = finished[2]
    assert failed["status"] == "failed" and failed["phase"] == "transfer"
    assert "connexion SSH" in failed["reason"] and "perdue" in failed["reason"], failed["reason"]
    assert failed["bytes_done"] < image["compressed_bytes"]
    assert run(devices.get_device(tags[2]))["state"] == "wiped"
    for index in (0, 1, 3, 4, 5):
        assert_imaged(lab, image, finished[index], index)
    # The PCs after the cut were fed again by a new chain from the server.
    for index in (3, 4, 5):
        details = [s["detail"] for s in finished[index]["steps"] if s["phase"] == "transfer"]
        assert any("reformée" in d for d in details), finished[index]["steps"]
    self_check()
    # Running it again for the PC that failed works.
    from provisioning.imaging.deploy import Options, Target
    from provisioning.imaging.deploy import deploy as deploy_

    assert lab.client_key is not None
    options = Options(pkey=lab.client_key, actor="test", open_socket=lab.open_socket)
    again = Target(host=third.host, tag=tags[2], disk=third.disk)
    [job] = run(deploy_(image["name"], "famille", [again], options))
    assert job["status"] == "passed", job["reason"]
    assert esp_ranges_read_back(third.disk, image) >= 64 * MIB
    assert run(devices.get_device(tags[2]))["state"] == "imaged"
    self_check()


def test_a_changed_host_key_refuses_that_pc_only(db, raw_image, lab):
    import paramiko

    from inventory import devices
    from provisioning.imaging import hostkeys

    image, tags = prepare(lab, raw_image)
    changed = lab.targets[3]
    seen = hostkeys.fingerprint(hostkeys.parse_public_key(changed.public_key_line()))
    run(hostkeys.enrol(changed.host, paramiko.ECDSAKey.generate(), actor="test"))
    finished = deploy(lab, image, tags)
    refused = finished[3]
    assert refused["status"] == "failed"
    assert "a changé" in refused["reason"] and seen in refused["reason"], refused["reason"]
    assert refused["phase"] == "connect" and refused["bytes_done"] == 0
    with open(changed.disk, "rb") as disk:
        assert disk.read(4 * MIB) == bytes(4 * MIB)
    assert run(devices.get_device(tags[3]))["state"] == "wiped"
    for index in (0, 1, 2, 4, 5):
        assert_imaged(lab, image, finished[index], index)
    self_check()


def test_a_worker_runs_a_queued_chain_together(db, raw_image, lab, monkeypatch):
    """The web queues a chained deployment; one worker claims its jobs together and runs them."""
    from provisioning.imaging import deploy, jobs
    from provisioning.imaging.deploy import DeploymentIn, Mode, TargetIn
    from provisioning.imaging.worker import Worker

    image, tags = prepare(lab, raw_image)
    chosen = list(zip(tags, lab.targets, strict=True))[:3]
    command = DeploymentIn(
        image=image["name"],
        profile="famille",
        targets=[TargetIn(tag=tag, host=t.host, disk=t.disk) for tag, t in chosen],
        mode=Mode.chained,
    )
    assert lab.client_key is not None
    options = deploy.Options(pkey=lab.client_key, open_socket=lab.open_socket)
    monkeypatch.setenv("REEMPLOI_SSH_KEY", str(lab.client_key_file))
    # Beats often: the first PC's job ends before the others, the chain's run must go on.
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.2)
    job_ids = run(_enqueue(command))
    queued = [run(jobs.get(j)) for j in job_ids]
    assert len({j["chain"] for j in queued}) == 1 and queued[0]["chain"]
    worker = Worker(options)
    run(worker.drain())
    finished = [run(jobs.get(j)) for j in job_ids]
    assert {j["worker"] for j in finished} == {worker.name}
    for index, job in enumerate(finished):
        assert_imaged(lab, image, job, index)
        # The second and third PCs got their ranges from the PC before them, not the server.
        detail = [s["detail"] for s in job["steps"] if s["phase"] == "transfer"]
        assert any("chaîne" in d for d in detail), job["steps"]
    self_check()


async def _enqueue(command) -> list[int]:
    from provisioning.imaging import deploy

    return await deploy.enqueue(command, "test")
