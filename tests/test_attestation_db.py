"""Proof of reuse for a public donor: the donor report and the décret 2023-266 attestation.

A prefecture gives five laptops with a WEEE collection reference; each of four is wiped (three
by a station that knows the tag, one on the bench and attached afterwards); one is lent, one
given, one sold, one recycled, one stays in stock. The donor report shows the reference and every
certificate; the attestation's sums are recomputed here from the events table, its PDF read back
with pdftotext.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from inventory import devices
from inventory.tables import Device, Donation, Event
from loans import checkout
from loans.reports import impact
from tests.support import loan_setup, run, signature_png
from tests.test_station_api_db import DISK as STATION_DISK
from tests.test_station_api_db import PASSED

pytestmark = pytest.mark.db
WEEE = "BSD-2026-0042"
# The station API tests' disk and passed result; each laptop here has its own serial.
DISK = {k: v for k, v in STATION_DISK.items() if k != "serial"}


@pytest.fixture
def app_client(db: None) -> Iterator[Any]:
    """The application with these routes, whether or not web/app.py lists them yet."""
    from litestar.testing import TestClient

    import web.app
    from web.pages import reports as pages

    missing = [h for h in (pages.donor_attestation_page,) if h not in web.app.ROUTE_HANDLERS]
    web.app.ROUTE_HANDLERS.extend(missing)
    try:
        with TestClient(web.app.create_app(), base_url="http://testserver.local") as client:
            yield client
    finally:
        for handler in missing:
            web.app.ROUTE_HANDLERS.remove(handler)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wipe_by_station(client: Any, token: str, tag: str | None, serial: str) -> dict[str, Any]:
    body = {**DISK, "serial": serial} | ({"tag": tag} if tag else {})
    opened = client.post("/api/v1/sanitization/records", json=body, headers=bearer(token))
    assert opened.status_code == 201, opened.text
    done = client.post(
        f"/api/v1/sanitization/records/{opened.json()['id']}/finish",
        json=PASSED,
        headers=bearer(token),
    )
    assert done.status_code == 200, done.text
    return done.json()


def to_ready(tag: str) -> None:
    """Imaging and qualification, which this scenario does not exercise."""
    run(devices.record_image_verified(tag, True, "test", {"image": "test"}))
    run(devices.apply_transition(tag, "image_verified", "test"))
    run(devices.apply_transition(tag, "qualify", "test"))


def retire_by_page(client: Any, token: str, tag: str, form: dict[str, str]) -> None:
    headers = bearer(token)
    assert client.get(f"/d/{tag}/retire", headers=headers).status_code == 200
    version = str(run(devices.get_device(tag))["version"])
    data = {**form, "version": version, "_csrf_token": client.cookies.get("reemploi_csrf", "")}
    answer = client.post(f"/d/{tag}/retire", data=data, headers=headers, follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def scenario(app_client: Any, tokens: dict[str, str]) -> dict[str, Any]:
    admin, technician = tokens["admin"], tokens["technician"]
    site = app_client.post(
        "/api/v1/sites", json={"name": "Atelier de Villeurbanne"}, headers=bearer(admin)
    ).json()
    lot = app_client.post(
        "/api/v1/donations",
        json={
            "received_on": date.today().isoformat(),
            "site_id": site["id"],
            "new_donor_name": "Préfecture du Rhône",
            "new_donor_kind": "public_body",
            "weee_reference": WEEE,
            "device_count": 5,
            "kind": "laptop",
        },
        headers=bearer(technician),
    )
    assert lot.status_code == 201, lot.text
    tags = lot.json()["tags"]
    donor_id = lot.json()["donor_id"]
    lent, given, sold, recycled, stock = tags
    certificates = {}
    for tag in (lent, given, sold):
        moved = app_client.post(
            f"/api/v1/devices/{tag}/transitions",
            json={"transition": "triage"},
            headers=bearer(technician),
        )
        assert moved.status_code == 200, moved.text
        certificates[tag] = wipe_by_station(app_client, technician, tag, f"S-{tag}")
    # The recycled one is wiped on the bench without its tag, then attached after the fact.
    app_client.post(
        f"/api/v1/devices/{recycled}/transitions",
        json={"transition": "triage"},
        headers=bearer(technician),
    )
    loose = wipe_by_station(app_client, technician, None, f"S-{recycled}")
    attached = app_client.post(
        "/api/v1/sanitization/attachments",
        json={"record_id": loose["id"], "asset_tag": recycled},
        headers=bearer(technician),
    )
    assert attached.status_code == 200, attached.text
    certificates[recycled] = attached.json()
    for tag in (lent, given, sold):
        to_ready(tag)
    setup = run(loan_setup())
    run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [lent]),
            checkout.SignatureIn(
                checkout.SignatureMethod.drawn,
                signature_png(),
                "Camille Durand",
                checkout.SignerRole.self,
            ),
            "mediatrice",
        )
    )
    code = setup["borrower"]["code"]
    retire_by_page(app_client, technician, given, {"reason": "given", "recipient_code": code})
    retire_by_page(
        app_client,
        technician,
        sold,
        {"reason": "sold", "recipient_code": code, "price": "35"},
    )
    retire_by_page(app_client, technician, recycled, {"reason": "recycled_weee"})
    return {
        "donor_id": donor_id,
        "tags": tags,
        "outcomes": {lent: "lent", given: "given", sold: "sold", recycled: "recycled"},
        "stock": stock,
        "certificates": {t: c["certificate_id"] for t, c in certificates.items()},
    }


def test_the_donor_report_carries_the_reference_and_every_certificate(
    app_client: Any, tokens: dict[str, str], scenario: dict[str, Any]
) -> None:
    donor_id = scenario["donor_id"]
    report = app_client.get(
        f"/api/v1/reports/donors/{donor_id}", headers=bearer(tokens["coordinator"])
    ).json()
    assert report["public"] is True
    assert [lot["weee_reference"] for lot in report["lots"]] == [WEEE]
    by_tag = {d["asset_tag"]: d for d in report["devices"]}
    for tag, certificate_id in scenario["certificates"].items():
        assert certificate_id, tag
        (shown,) = by_tag[tag]["certificates"]
        assert shown["certificate_id"] == certificate_id
        assert shown["verify_url"].endswith(f"/verify/{certificate_id}")
    assert by_tag[scenario["stock"]]["certificates"] == []
    sold = next(tag for tag, outcome in scenario["outcomes"].items() if outcome == "sold")
    assert "Vendu" in by_tag[sold]["fate"] and by_tag[sold]["left_on"] == date.today().isoformat()
    page = app_client.get(f"/reports/donors/{donor_id}", headers=bearer(tokens["coordinator"]))
    assert WEEE in page.text and f'href="/reports/donors/{donor_id}/attestation"' in page.text
    for certificate_id in scenario["certificates"].values():
        assert f'href="/verify/{certificate_id}"' in page.text


def sums_from_events(donor_id: int) -> dict[str, int]:
    """The attestation's sums, recomputed from the events alone."""
    ids = [
        d["id"]
        for d in run(
            Device.select(Device.id).where(
                Device.donation.is_in(
                    [r["id"] for r in run(Donation.select().where(Donation.donor == donor_id))]
                )
            )
        )
    ]
    events = run(Event.select().where(Event.device.is_in(ids)).order_by(Event.id))
    registered = {e["device"] for e in events if e["kind"] == "registered"}
    lent = {e["device"] for e in events if e["kind"] == "checkout"}

    def reason(e: dict[str, Any]) -> str:
        payload = e["payload"]
        return (json.loads(payload) if isinstance(payload, str) else payload).get("reason", "")

    retired = {e["device"]: reason(e) for e in events if e["kind"] == "retire"}
    given = {d for d, r in retired.items() if r == "given"}
    sold = {d for d, r in retired.items() if r == "sold"}
    lent_only = lent - given - sold
    recycled = {d for d, r in retired.items() if r == "recycled_weee"} - lent
    return {
        "received": len(registered),
        "reused": len(lent_only | given | sold),
        "lent": len(lent_only),
        "given": len(given),
        "sold": len(sold),
        "recycled": len(recycled),
        "in_stock": len(registered - lent - set(retired)),
    }


def test_the_attestation_sums_match_the_events_and_its_pdf_lists_each_device(
    app_client: Any, tokens: dict[str, str], scenario: dict[str, Any], tmp_path: Any
) -> None:
    donor_id, headers = scenario["donor_id"], bearer(tokens["coordinator"])
    page = app_client.get(f"/reports/donors/{donor_id}/attestation", headers=headers)
    assert page.status_code == 200, page.text
    for tag in scenario["tags"]:
        assert tag in page.text
    assert "décret 2023-266" in page.text and WEEE in page.text
    expected = sums_from_events(donor_id)
    assert expected == {
        "received": 5,
        "reused": 3,
        "lent": 1,
        "given": 1,
        "sold": 1,
        "recycled": 1,
        "in_stock": 1,
    }
    content = app_client.get(
        f"/reports/donors/{donor_id}/attestation", params={"format": "csv"}, headers=headers
    )
    assert content.status_code == 200
    lines = list(csv.reader(io.StringIO(content.content.decode("utf-8"))))
    table = [row for row in lines[1:] if len(row) == 9]
    sums = {row[0]: row[1] for row in lines if len(row) == 2}
    assert sorted(row[0] for row in table) == sorted(scenario["tags"])
    assert all(row[6] == WEEE for row in table)
    assert sums["appareils_recus"] == str(expected["received"])
    assert sums["appareils_reemployes"] == str(expected["reused"])
    assert sums["dont_pretes"] == str(expected["lent"])
    assert sums["dont_donnes"] == str(expected["given"])
    assert sums["dont_vendus"] == str(expected["sold"])
    assert sums["appareils_recycles_deee"] == str(expected["recycled"])
    assert sums["en_stock"] == str(expected["in_stock"])
    per_year = Decimal(impact.figures()["avoided_per_extra_year"]["co2e_kg"])
    assert Decimal(sums["co2e_evite_kg"]) == per_year * expected["reused"]
    today = date.today().isoformat()
    outcomes = {row[0]: (row[7], row[8]) for row in table}
    for tag, outcome in scenario["outcomes"].items():
        assert outcomes[tag][1] == today, (tag, outcome)
    assert outcomes[scenario["stock"]] == ("En stock, en préparation", "")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) est nécessaire pour lire le PDF.")
    pdf = app_client.get(
        f"/reports/donors/{donor_id}/attestation", params={"format": "pdf"}, headers=headers
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (tmp_path / "attestation.pdf").write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "attestation.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for tag in scenario["tags"]:
        assert tag in text
    assert WEEE in text and "ADEME" in text and "2023-266" in text


def test_a_company_gets_no_attestation(app_client: Any, tokens: dict[str, str]) -> None:
    from inventory import intake

    donor = run(intake.create_donor("Banque Rhône-Alpes", "company"))
    answer = app_client.get(
        f"/reports/donors/{donor['id']}/attestation", headers=bearer(tokens["coordinator"])
    )
    assert answer.status_code == 422
    assert "n'est pas un organisme public" in answer.text.replace("&#39;", "'")
