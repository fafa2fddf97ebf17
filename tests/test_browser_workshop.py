"""The workshop in real Chromium: the repair queue, a repair outside any loan, a device edit
(a stale one refused), and retirement (a gift with recipient and price; a refusal in words)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from inventory import devices
from loans import checkout, returns
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.rowcounts import table_counts
from tests.support import loan_setup, new_donation, ready_devices, run, signature_png
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A technician's page, in French."""
    run(create_user("technicien", PASSWORD, "technician"))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "technicien")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def shoot(page: Any, name: str) -> None:
    shoot_widths(page, f"workshop-{name}")


def submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"form#{form} button[type=submit]").click()


def test_the_queue_shows_a_loan_repair_and_closing_returns_the_device(
    page: Any, server: str
) -> None:
    (tag,) = run(ready_devices(1))
    setup = run(loan_setup())
    run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag]),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )
    run(returns.check_in(tag, returns.ReturnIn("repair", damage_notes="Touche K cassée"), "m"))
    page.goto(f"{server}/workshop")
    queue = page.locator("#queue")
    assert tag in queue.inner_text() and setup["borrower"]["code"] in queue.inner_text()
    assert "Touche K cassée" in queue.inner_text() and "il y a" in queue.inner_text()
    shoot(page, "queue")
    page.locator(f"#queue a:has-text('{tag}')").click()
    page.wait_for_url(re.compile(r"/workshop/tickets/\d+$"))
    shoot(page, "ticket")
    # Refused without actions: the sentence names the field, what was typed stays.
    page.fill("#parts", "Clavier AZERTY")
    page.locator("form#close-form button[type=submit]").evaluate("b => b.form.noValidate = true")
    submit(page, "close-form")
    assert "Actions" in page.locator("#error").inner_text()
    assert page.input_value("#parts") == "Clavier AZERTY"
    assert page.get_attribute("#actions", "aria-invalid") == "true"
    page.fill("#actions", "Clavier remplacé")
    page.check("input[name=outcome][value=repaired]")
    submit(page, "close-form")
    assert "Réparé" in page.locator("#outcome").inner_text()
    assert run(devices.get_device(tag))["state"] == "loaned"
    page.goto(f"{server}/workshop")
    assert "Aucune réparation en cours" in page.locator("#queue").inner_text()


def test_a_repair_outside_a_loan_from_the_device_card(page: Any, server: str) -> None:
    (tag,) = run(ready_devices(1))
    page.goto(f"{server}/d/{tag}")
    page.locator('a:has-text("Réparation à l\'atelier")').click()
    page.wait_for_url(re.compile(r"/workshop\?tag="))
    assert page.input_value("#tag") == tag
    page.fill("#fault", "Ne démarre plus")
    submit(page, "repair-form")
    page.wait_for_url(re.compile(r"/workshop/tickets/\d+$"))
    assert "Hors prêt" in page.locator("#ticket").inner_text()
    assert run(devices.get_device(tag))["state"] == "in_repair"
    page.fill("#actions", "Alimentation changée")
    page.check("input[name=outcome][value=repaired]")
    submit(page, "close-form")
    assert run(devices.get_device(tag))["state"] == "ready"
    # A device not ready is refused in words, the typed fault kept.
    (fresh,) = run(new_donation(1))
    page.goto(f"{server}/workshop")
    page.fill("#tag", fresh)
    page.fill("#fault", "Charnière")
    submit(page, "repair-form")
    assert "impossible depuis l'état « Reçu »" in page.locator("#error").inner_text()
    assert page.input_value("#fault") == "Charnière"
    shoot(page, "queue-refused")


def test_an_edit_and_a_stale_edit(page: Any, server: str) -> None:
    (tag,) = run(new_donation(1))
    page.goto(f"{server}/d/{tag}")
    page.locator("a:has-text('Modifier la fiche')").click()
    page.wait_for_url(f"{server}/d/{tag}/edit")
    shoot(page, "edit")
    page.fill("#brand", "Dell")
    page.fill("#serial", "SN-42")
    page.select_option("#grade", "B")
    submit(page, "edit-form")
    page.wait_for_url(f"{server}/d/{tag}")
    device = run(devices.get_device(tag))
    assert (device["brand"], device["serial"], device["grade"]) == ("Dell", "SN-42", "B")
    # Someone else edits while this form is open: the save is refused, 409, nothing changes.
    page.goto(f"{server}/d/{tag}/edit")
    run(
        devices.edit_device(
            tag,
            devices.DeviceEdit(
                version=device["version"], brand="HP", model="T470", serial="SN-42", grade="B"
            ),
            "autre",
        )
    )
    page.fill("#model", "Latitude")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("form#edit-form button[type=submit]").click()
    assert answer.value.status == 409
    assert "modifié par quelqu'un d'autre" in page.locator("#error").inner_text()
    assert page.input_value("#model") == "Latitude"
    assert "HP" in page.locator("#current").inner_text()
    assert run(devices.get_device(tag))["model"] == "T470"
    shoot(page, "edit-stale")


def test_retire_given_with_recipient_and_price_and_a_refusal(page: Any, server: str) -> None:
    (wiped,) = run(ready_devices(1))
    (unwiped,) = run(new_donation(1))
    borrower = run(loan_setup())["borrower"]
    # A gift of an unwiped device: the lifecycle refuses, in words, and the form keeps its values.
    page.goto(f"{server}/d/{unwiped}/retire")
    before = run(table_counts())
    page.check("input[name=reason][value=given]")
    page.fill("#recipient_code", borrower["code"])
    page.fill("#price", "10")
    submit(page, "retire-form")
    assert "doit d'abord être effacé" in page.locator("#error").inner_text()
    assert page.input_value("#recipient_code") == borrower["code"]
    assert run(devices.get_device(unwiped))["state"] == "received"
    assert run(table_counts()) == before, "a refusal wrote nothing"
    shoot(page, "retire-refused")
    # A gift without recipient: the field is named.
    page.goto(f"{server}/d/{wiped}")
    page.locator("a:has-text('Sortir du parc')").click()
    page.wait_for_url(f"{server}/d/{wiped}/retire")
    shoot(page, "retire")
    page.check("input[name=reason][value=given]")
    page.fill("#price", "35,50")
    submit(page, "retire-form")
    assert page.get_attribute("#recipient_code", "aria-invalid") == "true"
    page.fill("#recipient_code", borrower["code"])
    submit(page, "retire-form")
    page.wait_for_url(f"{server}/d/{wiped}")
    device = run(devices.get_device(wiped))
    assert device["state"] == "retired"
    payload = run(devices.device_events(device["id"]))[-1]["payload"]
    assert (payload["reason"], payload["recipient_code"], payload["price_cents"]) == (
        "given",
        borrower["code"],
        3550,
    )


def test_the_queue_in_english(page: Any, server: str) -> None:
    (tag,) = run(ready_devices(1))
    page.goto(f"{server}/lang/en?next=/workshop")
    page.wait_for_url(f"{server}/workshop")
    page.fill("#tag", tag)
    page.fill("#fault", "No sound")
    submit(page, "repair-form")
    page.goto(f"{server}/workshop")
    queue = page.locator("#queue").inner_text()
    assert "Open tickets" in queue and "in the workshop, not on a loan" in queue
    assert "ago" in queue, queue
