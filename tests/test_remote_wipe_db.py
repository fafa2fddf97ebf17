"""The SSH wipe runs the bench's engine entry point and the bench's one outcome mapping.

A PC in a network namespace (sshd, a loop device as its disk) is wiped over SSH as step 2 of a
deployment; its record and certificate name the disk as the live system's `wipe.py identify`
found it (smartctl, hdparm, nvme-cli, then sysfs: a loop device answers only through sysfs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.sshtargets import Lab, build_test_image, can_run
from tests.support import new_donation, run

pytestmark = pytest.mark.db

_why = can_run()
if _why and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.db, pytest.mark.skip(reason=_why)]


@pytest.fixture(scope="module")
def raw_image():
    path = Path(tempfile.mkdtemp(prefix="reemploi-raw-", dir="/var/tmp")) / "test.img"
    try:
        build_test_image(path)
        yield path
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()


def test_an_ssh_wipe_names_the_disk_on_its_record_and_certificate(db, raw_image, tmp_path):
    from inventory import devices
    from provisioning import certificates
    from provisioning.imaging import hostkeys, images
    from provisioning.imaging.deploy import Options, Target, deploy
    from provisioning.tables import SanitizationRecord

    run(images.add_image("debian-test", raw_image, version="12.8", actor="test"))
    (tag,) = run(new_donation(1))
    run(devices.apply_transition(tag, "triage", "test"))
    with Lab(1) as lab:
        target = lab.targets[0]
        key = hostkeys.parse_public_key(target.public_key_line())
        run(hostkeys.enrol(target.host, key, actor="test"))
        assert lab.client_key is not None
        options = Options(pkey=lab.client_key, actor="test", open_socket=lab.open_socket)
        [job] = run(
            deploy(
                "debian-test",
                "famille",
                [Target(host=target.host, tag=tag, disk=target.disk)],
                options,
            )
        )
        assert job["status"] == "passed", job["reason"]
        backing = Path(target.disk_file)
        serial = f"{backing.name}#{os.stat(backing).st_ino}"
    [record] = run(
        SanitizationRecord.select()
        .where(SanitizationRecord.asset_tag == tag)
        .output(load_json=True)
    )
    assert record["status"] == "passed" and record["verification_result"] == "passed"
    assert record["media_model"] == "Loop (fichier image)" and record["media_serial"] == serial
    assert record["hidden_areas"] == "sans objet (périphérique loop)"
    assert record["tool"].startswith("Réemploi effaceur 1.1")
    assert record["notes"]["overlapped"] is True  # the engine's own report, through the one mapping
    pdf = certificates.pdf_path(record["certificate_sha256"])
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) est nécessaire pour lire le certificat.")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert serial in text and "Loop (fichier image)" in text
    assert "non communiqué" not in text
