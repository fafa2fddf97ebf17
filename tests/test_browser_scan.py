"""The workshop's pages in real Chromium: scanning, batch mode, intake, history, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from inventory import devices
from inventory.tables import Device, Donation
from inventory.tags import format_tag
from tests.browser import ARTIFACTS, PASSWORD, login, requests_leaving
from tests.support import new_donation, run
from web.accounts import create_user


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A logged-in technician's page, in French."""
    run(create_user("tech", PASSWORD, "technician"))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "tech")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def scan(page: Any, code: str) -> None:
    """Type as a USB scanner does: the characters, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def rows(page: Any) -> list[str]:
    return page.locator("#results li .tag").all_inner_texts()


def test_a_scan_adds_a_row_without_reloading(page: Any, server: str) -> None:
    tags = run(new_donation(2))
    page.goto(f"{server}/scan")
    page.evaluate("window.stillTheSamePage = true")
    assert page.evaluate("document.activeElement.id") == "code"
    scan(page, tags[0])
    page.wait_for_selector(f"#results li.ok >> text={tags[0]}")
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.input_value("#code") == ""
    assert page.evaluate("document.activeElement.id") == "code"
    assert page.inner_text("#counter") == "1"
    first_row = page.locator("#results li").first
    assert "Reçu" in first_row.inner_text() and "Trier : à effacer" in first_row.inner_text()


def test_thirty_quick_scans_give_thirty_rows(page: Any, server: str) -> None:
    tags = run(new_donation(30))
    page.goto(f"{server}/scan")
    for tag in tags:
        page.keyboard.type(tag, delay=0)
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#results li').length >= 30")
    page.wait_for_timeout(300)  # a doubled row would arrive now
    seen = rows(page)
    assert len(seen) == 30
    assert sorted(seen) == sorted(tags)
    assert seen == list(reversed(tags)), "newest first, in scan order"
    assert page.inner_text("#counter") == "30"


def test_a_misread_says_rescan(page: Any, server: str) -> None:
    (tag,) = run(new_donation(1))
    misread = tag[:-1] + ("Z" if tag[-1] != "Z" else "Y")
    page.goto(f"{server}/scan")
    scan(page, misread)
    row = page.wait_for_selector("#results li.bad.misread")
    assert "rescannez" in row.inner_text().lower()
    unknown = format_tag("RE", 99_999)
    scan(page, unknown)
    row = page.wait_for_selector("#results li.bad.unknown")
    assert "Enregistrer cet appareil" in row.inner_text()


def test_batch_mode_moves_ten_devices_to_wipe(page: Any, server: str) -> None:
    tags = run(new_donation(10))
    page.goto(f"{server}/scan")
    page.select_option("#action", "triage")
    page.focus("#code")
    for tag in tags:
        scan(page, tag)
    page.wait_for_function("() => document.querySelectorAll('#results li.ok').length === 10")
    states = {
        d["asset_tag"]: d["state"] for d in run(Device.select(Device.asset_tag, Device.state))
    }
    assert all(states[tag] == "to_wipe" for tag in tags)
    scan(page, tags[0])  # a second triage is refused, with the reason on its row
    row = page.wait_for_selector("#results li.bad.refused")
    assert "impossible" in row.inner_text()


def test_a_donation_of_ten_devices_from_an_xlsx_file(
    page: Any, server: str, tmp_path: Path
) -> None:
    run(new_donation(1))  # a site and a donor to choose from
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Type", "Marque", "Modèle", "Numéro de série"])
    for i in range(10):
        sheet.append(["portable", "Dell", "Latitude 7490", f"XLSX{i:04d}"])
    path = tmp_path / "lot.xlsx"
    workbook.save(path)
    page.goto(f"{server}/intake")
    page.select_option("#donor_id", index=1)
    page.fill("#weee_reference", "DEEE-2026-77")
    page.set_input_files("#spreadsheet", str(path))
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/donations/\d+\?new=1"))
    assert "10 étiquettes attribuées" in page.inner_text("main")
    found = re.search(r"/donations/(\d+)", page.url)
    assert found is not None
    donation_id = int(found.group(1))
    listed = run(Device.select(Device.serial, Device.model).where(Device.donation == donation_id))
    assert sorted(d["serial"] for d in listed) == [f"XLSX{i:04d}" for i in range(10)]
    assert (
        run(Donation.select(Donation.weee_reference).where(Donation.id == donation_id))[0][
            "weee_reference"
        ]
        == "DEEE-2026-77"
    )
    assert page.locator("a", has_text="Imprimer les étiquettes").count() == 1


def test_the_device_page_shows_the_history(page: Any, server: str) -> None:
    (tag,) = run(new_donation(1))
    run(devices.apply_transition(tag, "triage", "marie", note="clavier à changer"))
    page.goto(f"{server}/d/{tag}")
    history = page.inner_text(".timeline")
    # People's words, never the stored identifiers.
    assert "Reçu au don" in history and "Trié : à effacer" in history
    assert "registered" not in history and "triage" not in history
    assert "Reçu → À effacer" in history and "marie" in history and "clavier à changer" in history


def test_the_english_switch(page: Any, server: str) -> None:
    page.goto(f"{server}/scan")
    assert page.locator("header nav").inner_text().startswith("Scanner")
    page.click("a.lang")
    page.wait_for_url(f"{server}/scan")
    assert "Devices" in page.locator("header nav").inner_text()
    assert page.locator("label[for=code]").inner_text().startswith("Scanned code")
    page.goto(f"{server}/")
    assert "Devices by state" in page.inner_text("main")
    page.click("a.lang")
    assert "Parc par état" in page.inner_text("main")


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots_and_no_horizontal_overflow(
    db: None, server: str, browser: Any, width: int, height: int
) -> None:
    run(create_user("tech", PASSWORD, "technician"))
    tags = run(new_donation(3))
    run(devices.apply_transition(tags[0], "triage", "tech"))
    context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    page = context.new_page()
    login(page, server, "tech")
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {"scan": "/scan", "device": f"/d/{tags[0]}", "dashboard": "/"}
    for name, path in pages.items():
        page.goto(f"{server}{path}")
        if name == "scan":
            for tag in tags:
                scan(page, tag)
            scan(page, "RE-000001-?")
            page.wait_for_function("() => document.querySelectorAll('#results li').length === 4")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} overflows by {overflow}px at {width}x{height}"
    context.close()


def test_reading_pages_and_forms_work_without_javascript(
    db: None, server: str, browser: Any
) -> None:
    run(create_user("tech", PASSWORD, "technician"))
    tags = run(new_donation(2))
    context = browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = context.new_page()
    login(page, server, "tech")
    assert "Parc par état" in page.inner_text("main")
    page.goto(f"{server}/scan")
    page.fill("#code", tags[0])
    page.click("noscript button, form#scan-form button[type=submit]")
    page.wait_for_selector(f"#results li.ok >> text={tags[0]}")
    page.select_option("#action", "triage")
    page.fill("#code", tags[1])
    page.click("form#scan-form button[type=submit]")
    page.wait_for_selector(f"#results li.ok >> text={tags[1]}")
    assert run(devices.get_device(tags[1]))["state"] == "to_wipe"
    page.goto(f"{server}/d/{tags[0]}")
    page.click("button:has-text('Trier : à effacer')")
    page.wait_for_url(f"{server}/d/{tags[0]}")
    assert "À effacer" in page.inner_text("h1")
    page.goto(f"{server}/devices?state=to_wipe")
    assert sorted(page.locator("table.list a.tag").all_inner_texts()) == sorted(tags)
    context.close()


def test_piccolo_admin_behind_the_same_login(db: None, server: str, browser: Any) -> None:
    run(create_user("root", PASSWORD, "admin"))
    run(create_user("coord", PASSWORD, "coordinator"))
    run(create_user("tech", PASSWORD, "technician"))
    context = browser.new_context(locale="fr-FR")
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "root")
    page.click("header a:has-text('Administration')")
    page.wait_for_selector("text=Réemploi · administration")
    for group in ("Référentiel", "Comptes"):
        page.wait_for_selector(f"text={group}")
    page.click("text=Site")
    page.wait_for_url(re.compile(r"/admin/#/site"))
    assert not outside, f"piccolo-admin fetched from outside: {outside[:5]}"
    context.close()
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    login(page, server, "tech")
    assert page.locator("header a:has-text('Administration')").count() == 0
    assert page.goto(f"{server}/admin/").status == 403
    context.close()
    # /admin is for administrators only: a coordinator has neither the link nor the page.
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    login(page, server, "coord")
    assert page.locator("header a:has-text('Administration')").count() == 0
    assert page.goto(f"{server}/admin/").status == 403
    context.close()
