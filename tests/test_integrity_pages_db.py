"""The reproductions of the integrity issue, done as people do them: in Chromium, through pages.

Each refusal is checked to change nothing by counting the rows of every table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from inventory import devices
from loans import borrowers
from tests.browser import PASSWORD, login
from tests.rowcounts import table_counts
from tests.support import loan_setup, ready_devices, run
from tests.test_browser_loans import draw_signature, fill_checkout
from web.accounts import create_token, create_user

pytestmark = pytest.mark.db


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A coordinator's page: they lend, take returns and open device cards."""
    run(create_user("coordinatrice", PASSWORD, "coordinator"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    login(page, server, "coordinatrice")
    yield page
    context.close()


def lend(page: Any, server: str, borrower_id: int, tag: str) -> None:
    fill_checkout(page, server, borrower_id, tag)
    draw_signature(page)
    page.click("#submit")


def post_form(page: Any, server: str, action: str, fields: dict[str, str]) -> None:
    """Submit a form as a stale or hand-made page would, with the session's CSRF token."""
    page.goto(f"{server}/returns")
    token = page.locator("input[name=_csrf_token]").first.get_attribute("value")
    # The submission navigates: wait for the answer page, not the page we are on.
    with page.expect_navigation():
        page.evaluate(
            """([action, fields]) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                for (const [name, value] of Object.entries(fields)) {
                    const input = document.createElement("input");
                    input.type = "hidden"; input.name = name; input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            [action, {**fields, "_csrf_token": token}],
        )


def test_a_device_repaired_during_its_loan_cannot_be_lent_again(page: Any, server: str) -> None:
    setup = run(loan_setup())
    other = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Famille Martin")))
    (tag,) = run(ready_devices(1))
    lend(page, server, setup["borrower"]["id"], tag)
    page.wait_for_url(f"{server}/loans/*")

    page.goto(f"{server}/returns")
    page.fill("#tag", tag)
    page.check("#reason_repair")
    page.fill("#damage_notes", "Clavier qui colle")
    page.click("form[action='/returns'] button[type=submit]")
    page.wait_for_selector("#done")

    page.goto(f"{server}/d/{tag}")
    assert page.get_by_role("button", name="Réparé : prêt").count() == 0
    assert page.get_by_role("button", name="Renvoyer à l'effacement").count() == 0
    before = run(table_counts())

    device = run(devices.get_device(tag))
    post_form(
        page,
        server,
        f"/d/{tag}/transitions",
        {"transition": "repaired", "expected_version": str(device["version"])},
    )
    text = page.locator("body").inner_text()
    assert "seules les opérations du prêt" in text and "page Retours" in text
    assert run(table_counts()) == before

    # The API and a station's token are refused the same way.
    token = run(create_token("poste-atelier", "technician"))
    answer = httpx.post(
        f"{server}/api/v1/devices/{tag}/transitions",
        json={"transition": "repaired"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 409 and "page Retours" in answer.json()["detail"]
    before = run(table_counts())

    lend(page, server, other["id"], tag)
    assert "n'est pas prêt à être prêté" in page.locator("#error").inner_text()
    assert run(table_counts()) == before
    assert run(devices.get_device(tag))["state"] == "in_repair"


def test_a_refused_checkout_saves_no_new_household(page: Any, server: str) -> None:
    run(loan_setup())
    (tag,) = run(ready_devices(1))
    before = run(table_counts())
    for _attempt in range(2):
        page.goto(f"{server}/loans/new")
        page.click("summary")
        page.fill("#new_full_name", "Sacha Nouveau")
        page.fill("#new_phone", "06 00 00 00 01")
        page.fill("#tags", tag)
        page.fill("#signer_name", "Sacha Nouveau")
        page.select_option("#signer_role", "self")
        page.click("#submit")  # no signature drawn
        assert "pas signée" in page.locator("#error").inner_text()
    assert run(table_counts()) == before

    page.goto(f"{server}/loans/new")
    page.click("summary")
    page.fill("#new_full_name", "Sacha Nouveau")
    page.fill("#tags", tag)
    page.fill("#signer_name", "Sacha Nouveau")
    page.select_option("#signer_role", "self")
    draw_signature(page)
    page.click("#submit")
    page.wait_for_url(f"{server}/loans/*")
    after = run(table_counts())
    assert after["borrower"] == before["borrower"] + 1
    assert after["loan"] == before["loan"] + 1


def test_a_misread_tag_on_the_checkout_form_is_called_a_misread(page: Any, server: str) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    misread = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    before = run(table_counts())
    fill_checkout(page, server, setup["borrower"]["id"], misread)
    draw_signature(page)
    page.click("#submit")
    error = page.locator("#error").inner_text()
    assert "date" not in error.lower()
    assert "relu" in error.lower() or "mal lu" in error.lower() or "rescann" in error.lower()
    assert run(table_counts()) == before


def test_a_refused_intake_saves_no_new_donor(page: Any, server: str) -> None:
    from inventory import intake

    run(intake.create_site("Atelier de test"))
    before = run(table_counts())
    page.goto(f"{server}/intake")
    page.fill("#new_donor_name", "Mairie de Villeurbanne")
    page.select_option("#new_donor_kind", "public_body")
    page.fill("#device_count", "3")
    page.fill("#received_on", (date.today() + timedelta(days=2)).isoformat())
    page.click("form[action='/intake'] button[type=submit]")
    assert "dans le futur" in page.locator("[role=alert]").inner_text()
    assert run(table_counts()) == before
