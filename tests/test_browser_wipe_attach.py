"""In real Chromium: a loose record attached by scanning its device's tag on /wiping, and the
device card's inventory (CPU, RAM, SMART health and hours, battery wear) with the suggested
grade a technician confirms in one click."""

from __future__ import annotations

from typing import Any

import pytest

from inventory import devices
from provisioning import certificates, records
from provisioning.imaging import inventory_collect as collect
from provisioning.tables import MethodType, Status
from tests.support import new_donation, run
from tests.test_browser_wiping_images import no_python_text, open_page  # noqa: F401 (fixture)
from tests.test_inventory_grading_db import genuine_raw

pytestmark = pytest.mark.db
SIZE = 64 << 20


def _loose_record(serial: str) -> dict[str, Any]:
    """A hot-plug bench wipe: no device known, passed and certified."""
    media = records.Media(model="ST500LM021-1KJ152", serial=serial, size_bytes=SIZE)
    runner = records.Runner(operator="banc", station="banc-chaud")
    opened = run(
        records.start(media, runner, method_type=MethodType.clear, verification_method="full")
    )
    outcome = records.Outcome(
        status=Status.passed,
        method="overwrite",
        verification_method="full",
        verification_result="passed",
        verified_bytes=SIZE,
        bytes_written=SIZE,
    )
    return run(records.finish(opened["id"], outcome, "banc"))


def test_a_loose_record_is_attached_by_scanning_the_tag(
    open_page: Any,  # noqa: F811
    server: str,
) -> None:
    [tag] = run(new_donation(1))
    run(devices.apply_transition(tag, "triage", "test"))
    loose = _loose_record("LOOSE-0001")
    run(records.issue_pdf(loose["id"], server, "banc"))
    page = open_page("technicien-rattache", "technician")
    page.goto(f"{server}/wiping")
    row = page.locator(f'#unattached tr[data-record="{loose["id"]}"]')
    assert "LOOSE-0001" in row.inner_text()
    # A misread (wrong check character): refused with the sentence, nothing attached.
    misread = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    row.locator('input[name="asset_tag"]').fill(misread)
    row.locator("button").click()
    page.wait_for_selector("#attach-error")
    assert "mal lue" in page.locator("#attach-error").inner_text()
    assert run(records.get(loose["id"]))["device"] is None
    no_python_text(page)
    # The scanner types the tag and Enter: the device card opens and lists the record.
    row = page.locator(f'#unattached tr[data-record="{loose["id"]}"]')
    row.locator('input[name="asset_tag"]').fill(tag)
    row.locator('input[name="asset_tag"]').press("Enter")
    page.wait_for_url(f"{server}/d/{tag}")
    assert loose["certificate_id"] in page.content()
    assert "LOOSE-0001" in page.content()
    record = run(records.get(loose["id"]))
    assert record["asset_tag"] == tag and certificates.verify(record).valid
    assert run(devices.get_device(tag))["state"] == "wiped"
    # The public page of the certificate now names the device's PDF, laid out again.
    assert record["certificate_sha256"] != loose["certificate_sha256"]
    page.goto(f"{server}/wiping")
    assert page.locator(f'#unattached tr[data-record="{loose["id"]}"]').count() == 0


def test_the_card_shows_the_inventory_and_the_grade_is_confirmed(
    open_page: Any,  # noqa: F811
    server: str,
) -> None:
    [tag] = run(new_donation(1))
    device = run(devices.get_device(tag))
    run(collect.store(device["id"], collect.summarise(genuine_raw()), "test", "bench"))
    page = open_page("technicien-grade", "technician")
    page.goto(f"{server}/d/{tag}")
    card = page.locator("#hardware")
    text = card.inner_text()
    assert "INTEL SSDPEKNW010T8" in text and "bonne" in text
    assert "2 401 h" in text or "2\u202f401 h" in text or "2\xa0401 h" in text
    assert "usure 31,6 %" in text
    assert card.locator('[data-field="cpu"]').inner_text() != "—"
    suggested = card.locator('[data-field="suggested"]').inner_text()
    assert suggested in ("A", "B", "C")
    no_python_text(page)
    card.locator("button", has_text="Confirmer le grade").click()
    page.wait_for_url(f"{server}/d/{tag}")
    stored = run(devices.get_device(tag))
    assert stored["grade"] == suggested
    [edited] = [e for e in run(devices.device_events(stored["id"])) if e["kind"] == "device_edited"]
    assert edited["payload"]["after"] == {"grade": suggested}
    # Confirmed: the button is gone until the facts suggest another grade.
    assert page.locator("#hardware button", has_text="Confirmer le grade").count() == 0
