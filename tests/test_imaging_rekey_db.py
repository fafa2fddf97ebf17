"""A 2 GiB image deployed ten times in a row, across SSH re-keys (runs under CI=true)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from tests.sshtargets import Lab, build_test_image, can_run
from tests.support import run
from tests.test_imaging_deploy_db import _imaging_events, enrol_all, options, wiped_devices

GIB = 2**30
RUNS = int(os.environ.get("REEMPLOI_REKEY_RUNS", "10"))
MAPPED = int(os.environ.get("REEMPLOI_REKEY_MAPPED_MIB", "512")) * 2**20
REKEY_LIMIT = "64M"

pytestmark = pytest.mark.db
_why = can_run()
if _why and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.db, pytest.mark.skip(reason=_why)]


class KexCounter(logging.Handler):
    """Counts paramiko's key activations: one at connection, one more per re-key."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Switch to new keys" in record.getMessage():
            self.count += 1


def test_two_gib_image_ten_times_in_a_row_across_rekeys(db):
    from provisioning.imaging import images
    from provisioning.imaging.deploy import Target, deploy

    work = Path(tempfile.mkdtemp(prefix="reemploi-2g-", dir="/var/tmp"))
    counter = KexCounter()
    logger = logging.getLogger("paramiko.transport")
    level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        raw = work / "big.img"
        build_test_image(raw, size=2 * GIB, random_bytes=MAPPED)
        image = run(images.add_image("debian-2g", raw, version="12.8", actor="test"))
        raw.unlink()
        assert image["size_bytes"] >= 2 * GIB
        tags = run(wiped_devices(RUNS))
        with Lab(1, disk_bytes=2 * GIB + 64 * 2**20, rekey_limit=REKEY_LIMIT) as lab:
            run(enrol_all(lab))
            for i, tag in enumerate(tags):
                before = counter.count
                target = Target(host=lab.targets[0].host, tag=tag, disk=lab.targets[0].disk)
                [job] = run(deploy("debian-2g", "senior", [target], options(lab)))
                assert job["status"] == "passed", f"run {i + 1}: {job['reason']}"
                rekeys = counter.count - before - 1
                assert rekeys >= image["compressed_bytes"] // (64 * 2**20) - 1, rekeys
                assert _imaging_events(tag)[-1]["payload"]["verified"] is True
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
        for path in work.glob("*"):
            path.unlink()
        work.rmdir()
