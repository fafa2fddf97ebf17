"""A technician's whole day in real Chromium against the real server, every step in a page.

Data that other people or machines bring is set up with the services first (a wipe station's
reports, a raw image copied into the inbox, a borrower known to the association); the technician's
own steps are clicks and keystrokes: intake from a donor sheet in everyday words, a scan, the
wiping page, labels, system images, the repair queue and retiring a device.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from inventory.tables import Device
from provisioning import records
from provisioning.tables import MethodType
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.support import loan_setup, new_donation, ready_devices, run
from web.accounts import create_user

pytestmark = pytest.mark.db
DISK_SIZE = 250_059_350_016
SHEET = (
    "Type;Marque;Modèle;Numéro de série\n"
    "PC portable;Lenovo;ThinkPad T480;PF-001\n"
    "Unité centrale;Dell;OptiPlex 7010;UC-002\n"
    "Tour;HP;ProDesk 400;TR-003\n"
    "ÉCRAN;Iiyama;ProLite;EC-004\n"
    "tablette;Samsung;Galaxy Tab A;TB-005\n"
    "Ordinateur portable;Dell;Latitude 5490;PF-006\n"
)
KINDS = ["laptop", "desktop", "desktop", "screen", "tablet", "laptop"]


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    run(create_user("technicienne", PASSWORD, "technician"))
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="fr-FR", accept_downloads=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "technicienne")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def shoot(page: Any, step: str) -> None:
    shoot_widths(page, f"day-technician-{step}")


def submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(
            f"form#{form} button[type=submit], form.{form} button[type=submit]"
        ).first.click()


def raw_image(path: Path, size: int = 8 * 2**20) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        for offset in (0, 2**20, 5 * 2**20):
            f.seek(offset)
            f.write(secrets.token_bytes(64 * 1024))


async def a_station_is_wiping() -> tuple[str, int]:
    """A disk of an earlier donation on the bench, 40 % through its wipe."""
    (tag,) = await new_donation(1)
    await devices.apply_transition(tag, "triage", "banc")
    media = records.Media(
        model="Samsung 860 EVO", serial="BENCH-0001", size_bytes=DISK_SIZE, transport="sata"
    )
    running = await records.start(
        media,
        records.Runner(operator="banc", station="poste-1"),
        method_type=MethodType.clear,
        verification_method="sample",
        tag=tag,
    )
    await records.heartbeat(running["id"], DISK_SIZE * 4 // 10)
    return tag, running["id"]


def test_a_technicians_day(page: Any, server: str, tmp_path: Path) -> None:
    from provisioning.imaging import catalogue

    wiping_tag, record_id = run(a_station_is_wiping())
    to_repair, to_give = run(ready_devices(2))
    recipient = run(loan_setup())["borrower"]["code"]
    image_file = f"jour-{secrets.token_hex(3)}.img"
    raw_image(catalogue.inbox_dir() / image_file)
    try:
        # 1. Intake: the donor's sheet, in the donor's words. A word nobody planned for is
        # refused with the accepted values listed; the corrected sheet is registered.
        bad = tmp_path / "don-mairie-brouillon.csv"
        bad.write_text(SHEET + "Frigo;Bosch;KGN;FR-007\n", encoding="utf-8")
        good = tmp_path / "don-mairie.csv"
        good.write_text(SHEET, encoding="utf-8")
        page.goto(f"{server}/intake")
        page.fill("#new_donor_name", "Mairie de Villeurbanne")
        page.select_option("#new_donor_kind", "public_body")
        page.set_input_files("#spreadsheet", str(bad))
        with page.expect_navigation():
            page.click("form.form button[type=submit]")
        refusal = page.locator(".error").inner_text()
        assert "Ligne 8" in refusal and "«\u00a0Frigo\u00a0»" in refusal, refusal
        assert "Valeurs acceptées" in refusal and "unité centrale" in refusal, refusal
        assert page.input_value("#new_donor_name") == "Mairie de Villeurbanne"
        shoot(page, "1-intake-refused")
        page.set_input_files("#spreadsheet", str(good))
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r"/donations/\d+\?new=1"))
        donation_id = int(re.search(r"/donations/(\d+)", page.url).group(1))
        assert "6 étiquettes attribuées" in page.inner_text("main")
        lot = run(
            Device.select(Device.asset_tag, Device.kind)
            .where(Device.donation == donation_id)
            .order_by(Device.id)
        )
        assert [d["kind"] for d in lot] == KINDS
        assert "Unité centrale" not in page.inner_text("main")  # shown as the kind's words
        assert "Ordinateur fixe" in page.inner_text("main")
        shoot(page, "1-intake-donation")

        # 2. Scan: a tag of the new lot, typed as a USB scanner does.
        first_tag = lot[0]["asset_tag"]
        page.goto(f"{server}/scan")
        page.keyboard.type(first_tag.lower().replace("-", ""))
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#results li.ok >> text={first_tag}")
        row = page.locator("#results li.ok").first
        assert first_tag in row.inner_text() and "Reçu" in row.inner_text()
        shoot(page, "2-scan")

        # 3. The wiping page: the bench's run in progress, with its bar.
        page.goto(f"{server}/wiping")
        card = page.locator(f'#running [data-record="{record_id}"]')
        assert wiping_tag in card.inner_text() and "poste-1" in card.inner_text()
        assert card.locator('[data-field="percent_text"]').inner_text() == "40 %"
        shoot(page, "3-wiping")

        # 4. Labels for the whole lot, one PDF.
        page.goto(f"{server}/donations/{donation_id}")
        page.locator("a", has_text="Imprimer les étiquettes").click()
        page.wait_for_url(re.compile(r"/labels\?donation="))
        assert page.input_value("#donation") == str(donation_id)
        shoot(page, "4-labels")
        with page.expect_download() as download:
            page.locator("form#labels-form button[type=submit]").click()
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF")

        # 5. System images: the raw image copied to the inbox is added.
        page.goto(f"{server}/images")
        page.locator("form#add-image #file").select_option(image_file)
        page.fill("form#add-image #name", "debian-ecole-jour")
        page.fill("form#add-image #version", "12.8")
        page.locator("form#add-image button[type=submit]").click()
        page.wait_for_url(f"{server}/images")
        assert "Proposée" in page.locator('#images tr[data-image="debian-ecole-jour"]').inner_text()
        shoot(page, "5-images")

        # 6. The repair queue: a repair outside any loan, opened by tag, then closed.
        page.goto(f"{server}/workshop")
        page.fill("#tag", to_repair)
        page.fill("#fault", "Le pavé tactile ne répond plus")
        submit(page, "repair-form")
        page.wait_for_url(re.compile(r"/workshop/tickets/\d+$"))
        page.goto(f"{server}/workshop")
        assert to_repair in page.locator("#queue").inner_text()
        assert "hors prêt" in page.locator("#queue").inner_text()
        shoot(page, "6-queue")
        page.locator(f"#queue a:has-text('{to_repair}')").click()
        page.wait_for_url(re.compile(r"/workshop/tickets/\d+$"))
        page.fill("#actions", "Nappe du pavé tactile reconnectée")
        page.fill("#parts", "Aucune")
        page.check("input[name=outcome][value=repaired]")
        submit(page, "close-form")
        assert "Réparé" in page.locator("#outcome").inner_text()
        shoot(page, "6-ticket-closed")
        assert run(devices.get_device(to_repair))["state"] == "ready"

        # 7. Retire: a laptop given to a family, with its recipient and a symbolic price.
        page.goto(f"{server}/d/{to_give}")
        page.locator("a", has_text="Sortir du parc").click()
        page.wait_for_url(f"{server}/d/{to_give}/retire")
        page.check("input[name=reason][value=given]")
        page.fill("#recipient_code", recipient)
        page.fill("#price", "20")
        shoot(page, "7-retire")
        submit(page, "retire-form")
        page.wait_for_url(f"{server}/d/{to_give}")
        device = run(devices.get_device(to_give))
        assert device["state"] == "retired"
        payload = run(devices.device_events(device["id"]))[-1]["payload"]
        assert (payload["recipient_code"], payload["price_cents"]) == (recipient, 2000)
        shoot(page, "7-retired")
    finally:
        (catalogue.inbox_dir() / image_file).unlink(missing_ok=True)
