"""Charters and signing links in real Chromium: a coordinator writes and publishes a new charter
version in Markdown; a mediator makes a one-time signing link; the borrower signs on their own
browser and downloads the signed charter; the link then refuses a second use."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from inventory import devices
from loans.tables import Charter, Loan
from tests.browser import PASSWORD, login, requests_leaving, shoot
from tests.support import loan_setup, ready_devices, run
from tests.test_browser_loans import draw_signature, pdf_text
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def staff(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A context for staff pages, in French; `staff(username)` logs a page in."""
    contexts: list[Any] = []

    def open_as(username: str, role: str) -> Any:
        run(create_user(username, PASSWORD, role))
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        contexts.append((context, requests_leaving(context, server)))
        page = context.new_page()
        login(page, server, username)
        return page

    yield open_as
    for context, outside in contexts:
        context.close()
        assert not outside, f"requests left the workshop's server: {outside[:5]}"


MARKDOWN = """# Charte de prêt 2027

Nous prêtons des ordinateurs **reconditionnés**.

- Je prends soin de l'appareil.
- Je le rapporte en cas de panne.

<script>window.charterScriptRan = true</script>
"""


def test_a_coordinator_writes_previews_and_publishes_a_version(staff: Any, server: str) -> None:
    run(loan_setup())
    page = staff("coordinatrice", "coordinator")
    page.goto(f"{server}/charters")
    assert "en vigueur" in page.inner_text("#version-1")
    shoot(page, "charters")
    page.click("#new-version")
    page.wait_for_url(f"{server}/charters/new")
    page.fill("#title", "Charte de prêt 2027")
    page.fill("#text", MARKDOWN)
    page.click("#preview")
    page.wait_for_selector("#charter-preview")
    preview = page.locator("#charter-preview")
    assert preview.locator("h1").inner_text() == "Charte de prêt 2027"
    assert preview.locator("li").count() == 2
    assert preview.locator("strong").inner_text() == "reconditionnés"
    # The <script> typed in the text is shown as text, never run.
    assert "<script>window.charterScriptRan = true</script>" in preview.inner_text()
    assert preview.locator("script").count() == 0
    assert page.evaluate("() => window.charterScriptRan === undefined")
    # Nothing saved; the form keeps what was typed.
    assert run(Charter.count()) == 1
    assert page.input_value("#text").strip() == MARKDOWN.strip()
    assert page.input_value("#title") == "Charte de prêt 2027"
    shoot(page, "charter-new-preview")
    page.fill("#in_force_from", date.today().isoformat())
    page.click("#publish")
    page.wait_for_url(f"{server}/charters/2")
    assert "en vigueur" in page.inner_text("#status")
    assert page.locator("#charter-text h1").inner_text() == "Charte de prêt 2027"
    shoot(page, "charter-version")
    page.goto(f"{server}/charters")
    assert "en vigueur" in page.inner_text("#version-2")
    assert "remplacée" in page.inner_text("#version-1")
    # The new version is the one a checkout now shows and signs.
    page.goto(f"{server}/loans/new")
    assert "version 2" in page.inner_text("#checkout legend >> nth=2")
    assert page.locator("#charter-text h1").inner_text() == "Charte de prêt 2027"


def decode_qr(png: bytes) -> str:
    import zxingcpp

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "no QR code found in the link page's image"
    return found[0].text


def test_a_signing_link_signs_once_and_gives_the_signed_charter(
    staff: Any, server: str, browser: Any, tmp_path: Path
) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    page = staff("mediatrice", "mediator")
    page.goto(f"{server}/loans/new")
    page.select_option("#borrower_id", str(setup["borrower"]["id"]))
    page.fill("#tags", tag)
    page.check("#acc_chargeur")
    page.click("#create-link")
    page.wait_for_selector("#link-url")
    url = page.inner_text("#link-url").strip()
    assert re.fullmatch(rf"{re.escape(server)}/sign/[A-Za-z0-9_-]{{20,}}", url), url
    assert "expire le" in page.inner_text("#expires")
    assert page.get_attribute("#link-qr", "src").startswith("data:image/svg+xml")
    assert decode_qr(page.locator("#link-qr").screenshot()) == url
    # Nothing is lent until the charter is signed.
    assert run(Loan.count()) == 0 and run(devices.get_device(tag))["state"] == "ready"
    shoot(page, "sign-link")

    # The borrower, on their own phone, not logged in.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="fr-FR",
        has_touch=True,
        accept_downloads=True,
    )
    outside = requests_leaving(phone, server)
    borrower = phone.new_page()
    borrower.goto(url)
    assert "reconditionné" in borrower.inner_text("#charter-text")
    borrower.fill("#signer_name", "Camille Durand")
    borrower.select_option("#signer_role", "self")
    draw_signature(borrower)
    with borrower.expect_navigation():
        borrower.click("#submit")
    assert "la charte est signée" in borrower.inner_text("#signed")
    shoot(borrower, "signed")
    with borrower.expect_download() as download:
        borrower.click("#download")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    loan = run(Loan.select().first())
    text = pdf_text(pdf, tmp_path)
    assert f"Version {loan['charter_version']}" in text and "Camille Durand" in text
    assert tag in text
    assert run(devices.get_device(tag))["state"] == "loaned"

    # A second use is refused with a sentence; nothing changes.
    answer = borrower.goto(url)
    assert answer.status == 410
    assert "déjà servi" in borrower.inner_text("#error")
    assert borrower.locator("#signature-pad").count() == 0
    assert run(Loan.count()) == 1
    phone.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"
