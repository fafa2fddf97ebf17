"""The API a bench station reports through: open, heartbeat, finish; roles and conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from inventory import devices
from tests.support import new_donation, run
from tests.test_certificates_db import app_client, bearer  # noqa: F401 (fixture)

pytestmark = pytest.mark.db

DISK = {
    "model": "SanDisk SDSSDH3 250G",
    "serial": "190555801234",
    "size_bytes": 250059350016,
    "manufacturer": "SanDisk",
    "media_type": "SSD",
    "transport": "sata",
    "rotational": False,
    "hidden_areas": "pas de HPA, pas de DCO",
    "method_type": "clear",
    "verification_method": "sample",
    "station": "banc-2",
    "host": "banc-2.local",
    "pid": 4242,
    "pid_start": 1,
}
PASSED = {
    "status": "passed",
    "method_type": "clear",
    "method": "overwrite",
    "method_details": "Écrasement de chaque secteur adressable : 1 passe de zéros",
    "tool": "Réemploi effaceur 1.0 (Python 3.11.7)",
    "verification_method": "sample",
    "verification_result": "passed",
    "verified_bytes": 25005935002,
    "bytes_written": 250059350016,
}


def test_a_station_reports_a_wipe(app_client: Any, tokens: dict[str, str]) -> None:  # noqa: F811
    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "test"))
    head = bearer(tokens["technician"])
    opened = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "tag": tag}, headers=head
    )
    assert opened.status_code == 201, opened.text
    record = opened.json()
    assert record["status"] == "running" and record["asset_tag"] == tag
    again = app_client.post("/api/v1/sanitization/records", json=DISK, headers=head)
    assert again.status_code == 409 and "déjà en cours" in again.json()["detail"]
    beat = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/heartbeat",
        json={"progress_bytes": 1 << 30},
        headers=head,
    )
    assert beat.status_code == 200
    cheat = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/finish",
        json={**PASSED, "verification_result": "failed"},
        headers=head,
    )
    assert cheat.status_code == 422
    # A refused result is a failure record (DESIGN invariant 10): the station wipes again.
    refused = app_client.get(f"/api/v1/sanitization/records/{record['id']}", headers=head).json()
    assert refused["status"] == "failed" and refused["certificate_id"] is None
    assert run(devices.get_device(tag))["state"] == "to_wipe"
    record = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "tag": tag}, headers=head
    ).json()
    done = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/finish", json=PASSED, headers=head
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "passed" and body["certificate_id"]
    assert body["verify_url"].endswith(f"/verify/{body['certificate_id']}")
    assert run(devices.get_device(tag))["state"] == "wiped"
    # The same finish again (its answer lost): the same result, no second certificate.
    repeated = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/finish", json=PASSED, headers=head
    )
    assert repeated.status_code == 200 and repeated.json() == body
    # Another result for the closed record: a conflict.
    closed = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/finish",
        json={**PASSED, "status": "failed", "reason": "autre"},
        headers=head,
    )
    assert closed.status_code == 409
    late = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/heartbeat", json={}, headers=head
    )
    assert late.status_code == 409
    page = app_client.get(f"/verify/{body['certificate_id']}")
    assert "Signature valide" in page.text


def test_a_failed_wipe_reported_by_a_station(app_client: Any, tokens: dict[str, str]) -> None:  # noqa: F811
    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "test"))
    head = bearer(tokens["coordinator"])
    record = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "tag": tag}, headers=head
    ).json()
    failed = app_client.post(
        f"/api/v1/sanitization/records/{record['id']}/finish",
        json={
            "status": "failed",
            "reason": "Erreur d'écriture à l'octet 4096 : Input/output error",
        },
        headers=head,
    )
    assert failed.status_code == 200
    assert failed.json()["certificate_id"] is None and failed.json()["status"] == "failed"
    assert run(devices.get_device(tag))["state"] == "to_wipe"


def test_only_the_workshop_reports(app_client: Any, tokens: dict[str, str]) -> None:  # noqa: F811
    anonymous = app_client.post("/api/v1/sanitization/records", json=DISK)
    assert anonymous.status_code == 401
    for role in ("mediator", "partner", "funder"):
        response = app_client.post(
            "/api/v1/sanitization/records", json=DISK, headers=bearer(tokens[role])
        )
        assert response.status_code == 403, role
    refused = app_client.post(
        "/api/v1/sanitization/records",
        json={**DISK, "tag": "RE-999999-X"},
        headers=bearer(tokens["admin"]),
    )
    assert refused.status_code in (404, 422)
