"""`reemploi station` against the real server: a loop device attached is noticed and wiped.

Nobody types the device's path: the station learns of it from the kernel's uevent. Only loop
devices backed by a file in this test's folder are allowed, so no other loop device on the
machine (other tests, other people) can be touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioning import discovery
from provisioning.tables import SanitizationRecord
from tests.server import free_port, wait_until_healthy
from tests.support import run
from tests.test_wipe_engine import MiB, cmp_zero, loop_device, needs_root

pytestmark = [pytest.mark.db, needs_root]
BIN = Path(sys.executable).parent

LAUNCHER = """
import sys
import uvicorn
import web.app
from web.api import sanitization
from web.pages import verify
# This issue's routes, whether or not web/app.py lists them yet.
for handler in (sanitization.SanitizationController, verify.verify_page,
                verify.certificate_pdf, verify.donation_certificate):
    if handler not in web.app.ROUTE_HANDLERS:
        web.app.ROUTE_HANDLERS.append(handler)
# Guarded: the PDF renderer processes import this script again (multiprocessing's forkserver).
if __name__ == "__main__":
    uvicorn.run("web.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
                log_level="warning")
"""


@contextmanager
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER)
    env = {**os.environ, "REEMPLOI_DB_POOL": "1", "REEMPLOI_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, str(script), str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def records_for(serial: str) -> list[dict[str, Any]]:
    return run(
        SanitizationRecord.select()
        .where(SanitizationRecord.media_serial == serial)
        .order_by(SanitizationRecord.id)
    )


def test_an_attached_loop_device_is_wiped_without_typing_its_path(
    tmp_path: Path, tokens: dict[str, str]
) -> None:
    bay = tmp_path / "bay"
    bay.mkdir()
    with server(tmp_path) as url:
        log = (tmp_path / "station.log").open("w+")
        station = subprocess.Popen(
            [str(BIN / "reemploi"), "station", "--server", url, "--token", tokens["technician"],
             "--allow-loop", str(bay), "--verify", "sample", "--name", "banc-test"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while "Poste prêt" not in (tmp_path / "station.log").read_text():
                assert station.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            with loop_device(bay, 24 * MiB) as device:
                serial = discovery.identify(device).serial
                deadline = time.monotonic() + 60
                while not [r for r in records_for(serial) if r["status"] != "running"]:
                    assert station.poll() is None, (tmp_path / "station.log").read_text()
                    assert time.monotonic() < deadline, (tmp_path / "station.log").read_text()
                    time.sleep(0.3)
                (record,) = records_for(serial)
                assert record["status"] == "passed", record["reason"]
                assert record["station"] == "banc-test" and record["certificate_id"]
                assert record["operator"] == "token:test-technician"
                assert record["bytes_written"] == 24 * MiB
                assert cmp_zero(device, 24 * MiB)
            page = httpx.get(f"{url}/verify/{record['certificate_id']}")
            assert "Signature valide" in page.text
            # The station logs the certificate once the server answers, after the PDF is laid
            # out (the first one also starts the renderer processes).
            deadline = time.monotonic() + 30
            while f"certificat {record['certificate_id']}" not in (
                output := (tmp_path / "station.log").read_text()
            ):
                assert time.monotonic() < deadline, output
                time.sleep(0.3)
            assert "retiré" in output
        finally:
            station.send_signal(signal.SIGTERM)
            assert station.wait(timeout=60) == 0
            log.close()
        # Wiped once: closing the written device did not count as a new disk.
        assert len(records_for(serial)) == 1
