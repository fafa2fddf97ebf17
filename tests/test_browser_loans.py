"""Checkout on a tablet in real Chromium: a signature drawn on the canvas with pointer events."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from inventory import devices
from inventory.tables import Event
from loans import documents
from loans.tables import Loan, Signature
from tests.browser import PASSWORD, login, requests_leaving
from tests.support import loan_setup, ready_devices, run, unavailable
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A mediator's page on a tablet-sized, touch-enabled screen, in French."""
    run(create_user("mediatrice", PASSWORD, "mediator"))
    context = browser.new_context(
        viewport={"width": 1024, "height": 1366}, locale="fr-FR", has_touch=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "mediatrice")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def draw_signature(page: Any) -> None:
    """A stroke of the pen: pointer events from Chromium's input pipeline, not synthetic JS."""
    page.locator("#signature-pad").scroll_into_view_if_needed()
    box = page.locator("#signature-pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + box["height"] * 0.8)
    page.mouse.down()
    for step in range(1, 30):
        page.mouse.move(
            x + 20 + step * box["width"] / 35,
            y + box["height"] * (0.8 - 0.6 * ((step % 6) / 6)),
            steps=2,
        )
    page.mouse.up()


def fill_checkout(page: Any, server: str, borrower_id: int, tag: str) -> None:
    page.goto(f"{server}/loans/new")
    page.select_option("#borrower_id", str(borrower_id))
    page.fill("#tags", tag)
    page.check("#acc_chargeur")
    page.fill("#signer_name", "Camille Durand")
    page.select_option("#signer_role", "self")


def pdf_text(content: bytes, tmp_path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        unavailable("pdftotext (poppler-utils) is missing")
    (tmp_path / "c.pdf").write_bytes(content)
    return subprocess.run(
        [tool, "-layout", tmp_path / "c.pdf", "-"], check=True, capture_output=True, text=True
    ).stdout


def test_checkout_with_a_drawn_signature(page: Any, server: str, tmp_path: Path) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    fill_checkout(page, server, setup["borrower"]["id"], tag)
    assert "reconditionné" in page.inner_text("#charter-text")
    draw_signature(page)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/loans/\d+$"))
    sha = page.inner_text("#sha256").strip()
    response = page.request.get(server + page.get_attribute("#charter-pdf", "href"))
    assert response.ok
    pdf = response.body()
    assert hashlib.sha256(pdf).hexdigest() == sha
    loan = run(Loan.select().first())
    event = run(
        Event.select()
        .where((Event.loan_id == loan["id"]) & (Event.kind == "loan_opened"))
        .first()
        .output(load_json=True)
    )
    assert event["payload"]["document_sha256"] == sha == loan["document_sha256"]
    device = run(devices.get_device(tag))
    text = pdf_text(pdf, tmp_path)
    for expected in ("Version 1", tag, device["serial"], "Camille Durand", "chargeur"):
        assert expected in text, expected
    assert device["state"] == "loaned"
    # The stored signature holds the stroke drawn on the canvas.
    signature = run(Signature.select().first())
    image = Image.open(io.BytesIO(documents.read(signature["image_sha256"]))).convert("RGBA")
    inked = sum(1 for pixel in image.get_flattened_data() if pixel[3] > 0 and pixel[0] < 128)
    assert inked > 200


def test_without_a_signature_nothing_is_lent(page: Any, server: str) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    fill_checkout(page, server, setup["borrower"]["id"], tag)
    page.click("#submit")
    assert "pas signée" in page.inner_text("#error")
    # The form keeps what was typed; a cleared pad is no signature either.
    assert page.input_value("#tags") == tag
    draw_signature(page)
    page.click("#signature-clear")
    page.click("#submit")
    assert "pas signée" in page.inner_text("#error")
    assert run(Loan.count()) == 0
    assert run(devices.get_device(tag))["state"] == "ready"


def test_concurrent_checkouts_over_http_give_one_winner(db: None, server: str) -> None:
    """Four tablets submit the same device at once to the real server: one 201, three 409."""
    import base64
    import threading

    from tests.support import signature_png
    from web.accounts import create_token

    token = run(create_token("tablette", "mediator"))
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    body = {
        "borrower_id": setup["borrower"]["id"],
        "tags": [tag],
        "signature": {
            "method": "drawn",
            "image_base64": base64.b64encode(signature_png()).decode(),
            "signer_name": "Camille Durand",
            "signer_role": "self",
        },
    }
    answers: list[tuple[int, str]] = []
    start = threading.Barrier(4)

    def submit() -> None:
        start.wait()
        response = httpx.post(
            f"{server}/api/v1/loans",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        answers.append((response.status_code, response.json().get("detail", "")))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _ in answers) == [201, 409, 409, 409], answers
    assert all(tag in detail for code, detail in answers if code == 409)
    assert run(Loan.count()) == 1
