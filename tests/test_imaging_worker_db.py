"""Deployment jobs claimed by workers: each job runs once, a dead worker's jobs are taken back.

The first tests drive the claim, heartbeat and take-back rules on the database alone; the last
ones kill real `reemploi worker` and `reemploi serve` processes in the middle of writing a disk
of the netns targets (tests/sshtargets.py, root), start them again, and read the outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.imaging_workers import reemploi, start_worker, stop
from tests.server import free_port, wait_until_healthy
from tests.sshtargets import Lab, can_run
from tests.support import run
from tests.test_imaging_deploy_db import (  # noqa: F401
    add_image,
    enrol_all,
    raw_image,
    read_range,
    wiped_devices,
)

pytestmark = pytest.mark.db
needs_lab = pytest.mark.skipif(
    bool(can_run()) and os.environ.get("CI") != "true", reason=str(can_run())
)


async def queued_jobs(count: int) -> list[int]:
    from provisioning.imaging import jobs

    return [
        await jobs.create(
            device_id=None,
            tag=f"T{i}",
            target=f"root@10.0.0.{i}:22",
            disk="",
            image="img",
            profile="ecole",
            actor="test",
        )
        for i in range(count)
    ]


def statuses(job_id: int) -> list[str]:
    from provisioning.imaging import jobs

    return [e["status"] for e in run(jobs.events(job_id))]


def test_two_workers_never_run_the_same_job(db: None) -> None:
    """Two workers, each on its own loop and thread, drain 12 jobs: each runs exactly once."""
    from provisioning.imaging import jobs
    from provisioning.imaging.tables import JobStatus
    from provisioning.imaging.worker import Worker

    ids = run(queued_jobs(12))
    ran: list[tuple[int, str]] = []
    lock = threading.Lock()

    async def fake_run(job_id: int, worker: str) -> None:
        with lock:
            ran.append((job_id, worker))
        await asyncio.sleep(0.05)
        assert await jobs.finish(job_id, jobs.Progress(), worker, JobStatus.passed)

    workers = [Worker(runner=fake_run, concurrency=3) for _ in range(2)]
    threads = [threading.Thread(target=lambda w=w: run(w.drain())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(job for job, _ in ran) == ids, ran
    for job_id in ids:
        assert statuses(job_id) == ["queued", "running", "passed"]
        job = run(jobs.get(job_id))
        assert job["status"] == "passed" and job["attempts"] == 1
    # A job already taken cannot be claimed again.
    assert not run(jobs.claim(ids[0], "autre@hote/1/1/x"))


def test_a_dead_or_silent_workers_jobs_are_resumed_or_failed_with_a_reason(db: None) -> None:
    from provisioning.imaging import jobs
    from provisioning.imaging.tables import DeploymentJob

    ids = run(queued_jobs(6))
    dead = "worker@" + __import__("socket").gethostname()[:60] + "/999999999/12345/abcdef"
    silent, alive = "worker@autre-poste/42/4242/aaaaaa", "worker@autre-poste/43/4343/bbbbbb"
    # transfer: resumable; wipe and record: not; a silent remote worker; a live one; too many.
    setups = [
        (dead, "transfer", 1, 0),
        (dead, "wipe", 1, 0),
        (dead, "record", 1, 0),
        (silent, "verify", 1, 120),
        (alive, "transfer", 1, 1),
        (dead, "transfer", 3, 0),
    ]
    for job_id, (worker, phase, attempts, age) in zip(ids, setups, strict=True):
        assert run(jobs.claim(job_id, worker))
        run(
            DeploymentJob.update(
                {
                    DeploymentJob.phase: phase,
                    DeploymentJob.attempts: attempts,
                    DeploymentJob.heartbeat_at: jobs.now() - timedelta(seconds=age),
                }
            ).where(DeploymentJob.id == job_id)
        )
    taken = run(jobs.take_back(by="worker@ici/1/1/cccccc"))
    assert sorted(taken) == [ids[0], ids[1], ids[2], ids[3], ids[5]]
    rows = {j: run(jobs.get(j)) for j in ids}
    assert rows[ids[0]]["status"] == "queued" and rows[ids[0]]["worker"] == ""
    assert run(jobs.events(ids[0]))[-1]["reason"].startswith("repris : le serveur s'est arrêté")
    assert rows[ids[1]]["status"] == "failed"
    assert rows[ids[1]]["reason"].startswith("interrompu : le serveur s'est arrêté pendant")
    assert "effacement" in rows[ids[1]]["reason"] and rows[ids[1]]["finished_at"]
    assert rows[ids[2]]["status"] == "failed" and "enregistrement" in rows[ids[2]]["reason"]
    assert rows[ids[3]]["status"] == "queued"
    assert rows[ids[4]]["status"] == "running" and rows[ids[4]]["worker"] == alive
    assert rows[ids[5]]["status"] == "failed" and "3 fois" in rows[ids[5]]["reason"]
    for job_id in (ids[1], ids[2], ids[5]):
        assert statuses(job_id) == ["queued", "running", "failed"]
        assert run(jobs.events(job_id))[-1]["reason"] == rows[job_id]["reason"]
    # The silent worker comes back: its job is gone, its writes are refused.
    assert not run(jobs.finish(ids[3], jobs.Progress(), silent, jobs.JobStatus.passed))
    assert ids[3] not in run(jobs.heartbeat(silent))
    assert run(jobs.heartbeat(alive)) == {ids[4]}


def test_a_stopped_worker_gives_its_jobs_back(db: None) -> None:
    """SIGTERM on `reemploi worker`: its running job is queued again at once, not left running."""
    from provisioning.imaging import jobs
    from tests.imaging_workers import worker_thread

    started = threading.Event()

    async def slow(job_id: int, worker: str) -> None:
        started.set()
        await asyncio.sleep(60)

    [job_id] = run(queued_jobs(1))
    with worker_thread(runner=slow):
        assert started.wait(20)
    job = run(jobs.get(job_id))
    assert job["status"] == "queued" and job["worker"] == "", job
    assert statuses(job_id) == ["queued", "running", "queued"]


def test_target_and_deployment_commands_refuse_bad_values(db: None) -> None:
    from inventory.commands import build, checked
    from inventory.errors import FieldInvalid
    from provisioning.imaging.deploy import DeploymentIn, TargetIn, deployment_from_text

    with pytest.raises(FieldInvalid) as bad:
        checked(TargetIn(tag="RE-1", host="h", port=99999, disk="/dev/sda; rm -rf /"))
    assert bad.value.field in ("port", "disk") and " : " in str(bad.value)
    with pytest.raises(FieldInvalid) as port:
        build(TargetIn, {"tag": "RE-1", "host": "h", "port": "99999"}, strict=False)
    assert str(port.value) == "Port SSH : 65535 au plus."
    with pytest.raises(FieldInvalid) as disk:
        build(TargetIn, {"tag": "RE-1", "host": "h", "disk": "/dev/sda; rm -rf /"})
    assert str(disk.value) == "Disque : format non reconnu."
    with pytest.raises(FieldInvalid) as text:
        deployment_from_text("img", "ecole", "RE-1@h:99999")
    assert text.value.field == "targets" and "65535 au plus" in str(text.value)
    with pytest.raises(FieldInvalid) as empty:
        build(DeploymentIn, {"image": "img", "profile": "ecole", "targets": []})
    assert empty.value.field == "targets"
    ok = deployment_from_text("img", "ecole", "RE-1@10.0.0.2:2222=/dev/nvme0n1\n\n")
    assert ok.targets == [TargetIn(tag="RE-1", host="10.0.0.2", port=2222, disk="/dev/nvme0n1")]
    # Code that builds a target with the constructor is checked before anything is queued.
    from provisioning.imaging import deploy
    from provisioning.imaging.tables import DeploymentJob

    with pytest.raises(FieldInvalid, match="Port SSH"):
        run(deploy.prepare("img", "ecole", [TargetIn(host="h", tag="RE-1", port=0)], "test"))
    assert run(DeploymentJob.count()) == 0
    # The command line builds the same command: the same sentence, exit code 2.
    from click.testing import CliRunner

    from web.cli import main

    refused = CliRunner().invoke(
        main, ["image", "deploy", "--image", "img", "--profile", "ecole", "RE-1@h:99999"]
    )
    assert refused.exit_code == 2 and "65535 au plus" in refused.output, refused.output


# -- real processes, netns targets ------------------------------------------------------------


class Server:
    """`reemploi serve` as a process that a test may kill -9 and start again."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [reemploi(), "serve", "--port", str(self.port), "--workers", "1"],
            env={**os.environ, **self.env},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(self.url, self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def no_orphan_running() -> None:
    """No job is "running" without a live worker holding it."""
    from provisioning.imaging import jobs
    from provisioning.imaging.tables import DeploymentJob, JobStatus

    running = run(DeploymentJob.select().where(DeploymentJob.status == JobStatus.running))
    assert all(not jobs.worker_gone(j["worker"]) for j in running), running


@needs_lab
def test_killing_worker_and_server_mid_write_resumes_and_verifies(
    db: None,
    tokens: dict[str, str],
    raw_image: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from inventory import devices
    from provisioning.imaging import images, jobs

    image = run(add_image(raw_image))
    [tag] = run(wiped_devices(1))
    # A slow link: the transfer lasts long enough to be cut in its middle.
    with Lab(1, shape="24mbit") as lab:
        run(enrol_all(lab))
        target = lab.targets[0]
        env = {"REEMPLOI_SSH_KEY": str(lab.client_key_file)}
        server = Server(env, tmp_path / "server.log")
        server.start()
        worker = start_worker(lab.controller, env, tmp_path / "worker.log")
        try:
            started = httpx.post(
                f"{server.url}/api/v1/imaging/deployments",
                json={
                    "image": "debian-test",
                    "profile": "ecole",
                    "targets": [{"tag": tag, "host": target.host, "disk": target.disk}],
                },
                headers={"Authorization": f"Bearer {tokens['technician']}"},
                timeout=30,
            )
            assert started.status_code == 202, started.text
            [job_id] = started.json()
            third = image["compressed_bytes"] // 3

            def mid_write() -> bool:
                job = run(jobs.get(job_id))
                assert job["status"] in ("queued", "running"), job
                return job["phase"] == "transfer" and job["bytes_done"] >= third

            wait_for(mid_write, 120, "the transfer")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            server.kill()
            cut = run(jobs.get(job_id))
            assert cut["status"] == "running" and cut["bytes_done"] < cut["bytes_total"]
            assert jobs.worker_gone(cut["worker"])
            server.start()
            worker = start_worker(lab.controller, env, tmp_path / "worker.log")
            # The new worker takes the job back as it starts, without waiting for a timeout.
            wait_for(lambda: run(jobs.get(job_id))["worker"] != cut["worker"], 30, "the take-back")

            def ended() -> dict[str, Any] | None:
                no_orphan_running()
                job = run(jobs.get(job_id))
                return job if job["status"] in ("passed", "failed") else None

            job = wait_for(ended, 180, "the resumed job")
        finally:
            stop(worker)
            if server.process is not None:
                stop(server.process)
        logs = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert job["status"] == "passed", (job["reason"], logs)
        assert job["attempts"] == 2 and job["bytes_done"] == job["bytes_total"]
        events = run(jobs.events(job_id))
        assert [e["status"] for e in events] == ["queued", "running", "queued", "running", "passed"]
        assert events[2]["reason"].startswith("repris : le serveur s'est arrêté")
        assert events[1]["worker"] != events[3]["worker"]
        # Every range of the image reads back with its hash, read from the disk itself.
        block_map = images.load_map(image)
        for r in block_map.ranges[:50]:
            if r.offset >= 2048 * 512 and r.offset + r.length <= 8 * 2**20:
                data = read_range(target.disk, r.offset, r.length)
                assert hashlib.sha256(data).hexdigest() == r.sha256
    assert run(devices.get_device(tag))["state"] == "imaged"
    no_orphan_running()


@needs_lab
def test_two_worker_processes_run_each_job_exactly_once(
    db: None,
    raw_image: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inventory import devices
    from provisioning.imaging import deploy, jobs
    from provisioning.imaging.deploy import DeploymentIn, TargetIn

    run(add_image(raw_image))
    tags = run(wiped_devices(4))
    with Lab(4) as lab:
        run(enrol_all(lab))
        env = {"REEMPLOI_SSH_KEY": str(lab.client_key_file)}
        monkeypatch.setenv("REEMPLOI_SSH_KEY", env["REEMPLOI_SSH_KEY"])
        command = DeploymentIn(
            image="debian-test",
            profile="famille",
            targets=[
                TargetIn(tag=tag, host=t.host, disk=t.disk)
                for tag, t in zip(tags, lab.targets, strict=True)
            ],
        )
        job_ids = run(deploy.enqueue(command, "test"))
        workers = [start_worker(lab.controller, env, tmp_path / f"worker{i}.log") for i in range(2)]
        try:

            def all_ended() -> list[dict[str, Any]] | None:
                found = [run(jobs.get(j)) for j in job_ids]
                return found if all(j["status"] in ("passed", "failed") for j in found) else None

            finished = wait_for(all_ended, 240, "the four jobs")
        finally:
            for worker in workers:
                stop(worker)
    assert [j["status"] for j in finished] == ["passed"] * 4, [j["reason"] for j in finished]
    for job_id in job_ids:
        assert statuses(job_id) == ["queued", "running", "passed"]
        assert run(jobs.get(job_id))["attempts"] == 1
    assert {run(devices.get_device(t))["state"] for t in tags} == {"imaged"}
    no_orphan_running()
