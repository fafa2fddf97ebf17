"""The self-audit names every job "running" without a live worker (`reemploi check`): one whose
worker process is gone, or silent past the take-back delay; the worker's take-back clears it."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from inventory.clock import now
from provisioning.imaging import jobs
from provisioning.imaging.tables import DeploymentJob, JobStatus
from tests.support import run

pytestmark = pytest.mark.db


async def _running_job(worker: str) -> int:
    job_id = await jobs.create(
        device_id=None, tag="T1", target="root@10.0.0.1:22", disk="", image="img",
        profile="ecole", actor="test",
    )  # fmt: skip
    assert await jobs.claim(job_id, worker)
    return job_id


def _job_violations() -> list[str]:
    from web.selfcheck import audit

    return [v.sentence for v in run(audit()) if v.check == "job"]


def test_check_names_orphan_running_jobs_until_a_worker_takes_them_back(db: None) -> None:
    from click.testing import CliRunner

    from web.cli import main

    dead = f"worker@{socket.gethostname()[:60]}/999999/12345/dead00"
    silent = "worker@une-autre-machine/42/4242/silent"
    alive = jobs.worker_name()
    assert jobs.worker_gone(dead)
    gone_id = run(_running_job(dead))
    silent_id = run(_running_job(silent))
    alive_id = run(_running_job(alive))
    old = now() - jobs.STALE_AFTER - timedelta(seconds=5)
    run(
        DeploymentJob.update({DeploymentJob.heartbeat_at: old}).where(DeploymentJob.id == silent_id)
    )
    found = _job_violations()
    assert len(found) == 2, found
    assert any(f"n° {gone_id} " in s and "ne tourne plus" in s for s in found)
    assert any(f"n° {silent_id} " in s and "silencieux" in s for s in found)
    assert not any(f"n° {alive_id} " in s for s in found)
    checked = CliRunner().invoke(main, ["check"])
    assert checked.exit_code != 0 and f"n° {gone_id}" in checked.output
    # A worker starting takes them back (queued again or failed with a reason): clean again.
    taken = run(jobs.take_back(by="worker-test"))
    assert sorted(taken) == sorted([gone_id, silent_id])
    assert _job_violations() == []
    run(jobs.finish(alive_id, jobs.Progress(), alive, JobStatus.failed, "fin du test"))
    for job_id in (gone_id, silent_id):
        row = run(jobs.get(job_id))
        assert row["status"] in ("queued", "failed")
