"""`reemploi wipe` end to end on loop devices: records, device state, certificate, failures.

Real processes: the command runs as a subprocess on a real loop device; it is killed with
SIGKILL halfway, or its device detached with `losetup -d`, while a blkio cgroup slows it down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from provisioning import certificates, discovery, records
from provisioning.tables import SanitizationRecord
from tests.support import new_donation, run
from tests.test_wipe_engine import MiB, cmp_zero, in_cgroup, loop_device, needs_root, throttled

pytestmark = [pytest.mark.db, needs_root]
REEMPLOI = str(Path(sys.executable).parent / "reemploi")


def wipe_command(device: str, *args: str) -> list[str]:
    return [REEMPLOI, "wipe", device, "--allow-loop", *args]


def records_of_disk_at(device: str) -> list[dict[str, Any]]:
    serial = discovery.identify(device).serial

    async def query() -> list[dict[str, Any]]:
        await records.settle_abandoned()
        return (
            await SanitizationRecord.select()
            .where(SanitizationRecord.media_serial == serial)
            .order_by(SanitizationRecord.id)
        )

    return run(query())


def to_wipe_device() -> str:
    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "test"))
    return tag


def wait_for_running(device: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in records_of_disk_at(device) if r["status"] == "running"]
        if rows:
            return rows[-1]
        time.sleep(0.2)
    raise AssertionError("no running record appeared")


def pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_clear_certifies_and_moves_the_device(tmp_path: Path) -> None:
    tag = to_wipe_device()
    size = 32 * MiB
    with loop_device(tmp_path, size) as device:
        identity = discovery.identify(device)
        out = tmp_path / "record.json"
        done = subprocess.run(
            wipe_command(device, "--tag", tag, "--json", str(out)), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert cmp_zero(device, size)
    record = run(records.get(int(json.loads(out.read_text())["id"])))
    assert record["status"] == "passed" and record["bytes_written"] == size == record["size_bytes"]
    assert record["method_type"] == "clear" and record["verification_result"] == "passed"
    assert record["asset_tag"] == tag and record["source"] == "Donateur de test"
    assert certificates.verify(record).valid
    device_row = run(devices.get_device(tag))
    assert device_row["state"] == "wiped"
    kinds = [e["kind"] for e in run(devices.device_events(device_row["id"]))]
    assert kinds[-4:] == [
        "sanitization_started",
        "disk_sanitized",
        "wipe_passed",
        "certificate_issued",
    ]
    pdf = (
        certificates.key_path().parent.parent / "documents" / f"{record['certificate_sha256']}.pdf"
    )
    assert pdf.exists() and str(pdf) in done.stdout
    text = " ".join(pdftotext(pdf).split())
    for expected in (
        identity.model,
        identity.serial,
        "Méthode : Clear",
        "Relecture complète : réussie",
        "NIST SP 800-88",
        record["certificate_id"],
    ):
        assert expected in text, expected


def test_kill_9_halfway_leaves_no_certificate_and_a_rerun_succeeds(tmp_path: Path) -> None:
    tag = to_wipe_device()
    with loop_device(tmp_path, 64 * MiB) as device:
        with throttled(device, 4 * MiB) as procs:
            process = subprocess.Popen(
                wipe_command(device, "--tag", tag),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=in_cgroup(procs),
            )
            running = wait_for_running(device)
            time.sleep(1.0)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        assert not cmp_zero(device, 64 * MiB)  # killed halfway: random data remains
        (killed,) = records_of_disk_at(device)
        assert killed["id"] == running["id"]
        assert (
            killed["status"] == "interrupted" and "s'est arrêté sans conclure" in killed["reason"]
        )
        assert killed["certificate_id"] is None and killed["signature"] == ""
        assert run(devices.get_device(tag))["state"] == "to_wipe"
        again = subprocess.run(wipe_command(device, "--tag", tag), capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert cmp_zero(device, 64 * MiB)
    first, second = records_of_disk_at_serial(killed["media_serial"])
    assert (first["status"], second["status"]) == ("interrupted", "passed")
    assert second["certificate_id"] and run(devices.get_device(tag))["state"] == "wiped"


def records_of_disk_at_serial(serial: str) -> list[dict[str, Any]]:
    return run(
        SanitizationRecord.select()
        .where(SanitizationRecord.media_serial == serial)
        .order_by(SanitizationRecord.id)
    )


def test_detached_mid_wipe_gives_a_failed_record(tmp_path: Path) -> None:
    tag = to_wipe_device()
    with loop_device(tmp_path, 64 * MiB) as device:
        serial = discovery.identify(device).serial
        with throttled(device, 4 * MiB) as procs:
            process = subprocess.Popen(
                wipe_command(device, "--tag", tag),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=in_cgroup(procs),
            )
            wait_for_running(device)
            subprocess.run(["losetup", "-d", device], check=True)
            _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "détaché pendant l'effacement" in err
    (record,) = records_of_disk_at_serial(serial)
    assert record["status"] == "failed" and "détaché" in record["reason"]
    assert record["certificate_id"] is None
    assert run(devices.get_device(tag))["state"] == "to_wipe"


def test_sigterm_closes_the_record_as_interrupted(tmp_path: Path) -> None:
    tag = to_wipe_device()
    with loop_device(tmp_path, 64 * MiB) as device:
        serial = discovery.identify(device).serial
        with throttled(device, 4 * MiB) as procs:
            process = subprocess.Popen(
                wipe_command(device, "--tag", tag),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=in_cgroup(procs),
            )
            wait_for_running(device)
            time.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "interrupted" in err
    (record,) = records_of_disk_at_serial(serial)
    assert record["status"] == "interrupted" and "arrêté avant la fin" in record["reason"]
    assert record["certificate_id"] is None
    assert run(devices.get_device(tag))["state"] == "to_wipe"


def test_purge_of_a_loop_device_is_a_failed_purge_not_a_clear(tmp_path: Path) -> None:
    with loop_device(tmp_path, 8 * MiB) as device:
        serial = discovery.identify(device).serial
        done = subprocess.run(
            wipe_command(device, "--method", "purge"), capture_output=True, text=True
        )
    assert done.returncode == 1 and "micrologiciel" in done.stderr
    (record,) = records_of_disk_at_serial(serial)
    assert record["status"] == "failed" and record["method_type"] == "purge"
    assert record["certificate_id"] is None


def test_loop_devices_and_the_system_disk_are_refused(tmp_path: Path) -> None:
    with loop_device(tmp_path, 8 * MiB) as device:
        done = subprocess.run([REEMPLOI, "wipe", device], capture_output=True, text=True)
        assert done.returncode == 2 and "loop" in done.stderr
        assert not cmp_zero(device, 8 * MiB)
    # Never run the wipe itself against the machine's disk: ask only whether it would refuse.
    for name in discovery.system_disks():
        assert "système" in (discovery.refusal(name, Path("/")) or "")
    assert "zram" in (discovery.refusal("zram0", None) or "")
    assert "device-mapper" in (discovery.refusal("dm-0", None) or "")
