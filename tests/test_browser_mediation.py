"""Mediation pages in real Chromium (issue 12): the agenda of every mediator for a coordinator,
recording then correcting a session (the history shows both), an unplanned session, a collective
workshop with its attendance, and a refused form that keeps what was typed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from loans import checkout, mediation
from loans.tables import MediationSession
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.support import loan_setup, ready_devices, run, signature_png
from web.accounts import create_user

pytestmark = pytest.mark.db


def lend(mediator: str, name: str = "Camille Durand") -> dict:
    setup = run(loan_setup(name=name))
    (tag,) = run(ready_devices(1))
    return run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag], setup["programme"]["id"]),
            checkout.SignatureIn("drawn", signature_png(), name, "self"),
            mediator,
        )
    )


@pytest.fixture
def open_page(db: None, server: str, browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def opener(username: str, role: str) -> Any:
        run(create_user(username, PASSWORD, role))
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        outside = requests_leaving(context, server)
        contexts.append((context, outside))
        page = context.new_page()
        login(page, server, username)
        return page

    yield opener
    for context, outside in contexts:
        context.close()
        assert not outside, f"requests left the workshop's server: {outside[:5]}"


def shoot(page: Any, name: str) -> None:
    shoot_widths(page, f"mediation-{name}")


def test_the_coordinator_sees_every_mediators_agenda_and_filters(
    open_page: Any, server: str
) -> None:
    lend("mediatrice")
    lend("autre", name="Sam Petit")
    page = open_page("coordinatrice", "coordinator")
    page.goto(f"{server}/agenda")
    rows = page.locator("#agenda tbody tr")
    assert rows.count() == 4
    assert "/" not in rows.first.locator("td").first.inner_text()
    page.select_option("#mediator", "autre")
    page.locator("form#filter button[type=submit]").click()
    page.wait_for_url("**/agenda?mediator=autre")
    assert rows.count() == 2
    assert all(t == "autre" for t in page.locator("#agenda td:nth-child(4)").all_inner_texts())
    page.goto(f"{server}/agenda")
    shoot(page, "agenda")
    # A mediator sees their own by default, all on demand.
    mine = open_page("mediatrice", "mediator")
    mine.goto(f"{server}/agenda")
    assert mine.locator("#agenda tbody tr").count() == 2
    mine.select_option("#mediator", "*")
    mine.locator("form#filter button[type=submit]").click()
    mine.wait_for_url("**/agenda?mediator=*")
    assert mine.locator("#agenda tbody tr").count() == 4


def test_record_then_correct_a_session(open_page: Any, server: str) -> None:
    loan = lend("mediatrice")
    page = open_page("mediatrice", "mediator")
    page.goto(f"{server}/agenda")
    page.locator("#agenda a", has_text="prise en main").click()
    page.wait_for_selector("form#record")
    shoot(page, "session-record")
    # A refusal keeps what was typed and names the field.
    page.check("#status_done")
    page.select_option("#place_type", "domicile")
    page.fill("#commune", "Villeurbanne")
    page.fill("#duration_minutes", "45")
    page.fill("#notes", "mails et photos")
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#error")
    assert "thématique" in page.locator("#error").inner_text()
    assert page.input_value("#duration_minutes") == "45"
    assert page.input_value("#notes") == "mails et photos"
    assert page.locator("#themes-error").count() == 1
    page.check("#theme_email")
    page.select_option("#autonomy", "entierement_accompagne")
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert page.locator("#status").inner_text() == "Réalisée"
    # The correction: a new event, the history shows both.
    page.locator("details#correction summary").click()
    page.fill("#duration_minutes", "60")
    page.check("#theme_bureautique")
    page.locator("form#correct button[type=submit]").click()
    page.wait_for_selector("#done")
    history = page.locator("#history").inner_text()
    assert "Séance enregistrée" in history and "Séance corrigée" in history
    assert "45 min → 60 min" in history and "Bureautique" in history
    shoot(page, "session-corrected")
    (session,) = run(
        MediationSession.select()
        .where((MediationSession.loan == loan["id"]) & (MediationSession.status == "done"))
        .output(load_json=True)
    )
    assert session["duration_minutes"] == 60
    assert session["themes"] == ["email", "bureautique"]


def test_an_unplanned_session_and_a_workshop(open_page: Any, server: str) -> None:
    loan = lend("mediatrice")
    other = lend("mediatrice", name="Sam Petit")
    page = open_page("mediatrice", "mediator")
    page.goto(f"{server}/agenda")
    page.locator("#new-session").click()
    page.wait_for_selector("form#new-session")
    page.fill("#borrower", "B-ZZZZZZ")
    page.fill("#label", "passage imprévu")
    page.check("#status_done")
    page.select_option("#place_type", "lieu_activite")
    page.fill("#duration_minutes", "30")
    page.check("#theme_aide_aux_demarches_administratives")
    page.locator("form#new-session button[type=submit]").click()
    page.wait_for_selector("#borrower-error")
    assert page.input_value("#label") == "passage imprévu"
    assert page.is_checked("#theme_aide_aux_demarches_administratives")
    shoot(page, "session-new")
    page.fill("#borrower", loan["borrower_code"])
    page.fill("#loan", str(loan["id"]))
    page.locator("form#new-session button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert "séance non prévue" in page.locator("#history").inner_text()
    # A collective workshop, participants by their codes, then its attendance.
    page.goto(f"{server}/workshops/new")
    page.fill("#planned_on", date.today().isoformat())
    page.fill("#label", "Atelier messagerie")
    page.fill("#participants", f"{loan['borrower_code']}\n{other['borrower_code'].lower()}")
    shoot(page, "workshop-new")
    page.locator("form#new-workshop button[type=submit]").click()
    page.wait_for_selector("form#record")
    assert page.locator("fieldset.attendance input[type=checkbox]").count() == 2
    page.check("#status_done")
    page.select_option("#place_type", "lieu_activite")
    page.fill("#duration_minutes", "90")
    page.check("#theme_email")
    page.select_option("#autonomy", "partiellement_autonome")
    page.locator("fieldset.attendance input[type=checkbox]").nth(1).uncheck()
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert "présents : 1" in page.locator("#participants").inner_text()
    shoot(page, "workshop-recorded")
    (workshop,) = run(MediationSession.select().where(MediationSession.collective.eq(True)))
    assert run(mediation.session_history(workshop["id"]))["attended"] == [loan["borrower"]]
