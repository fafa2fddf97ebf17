"""A coordinator's whole day in real Chromium, against the real server, with no API call.

A new charter version, a programme, a funder account linked to it, a borrower's data exported
(JSON and PDF) then erased, and the agenda of every mediator, then of one. Data the day starts
with is made by the services beforehand; every step of the day is done through the pages.
Screenshots of each step at 390x844 and 1280x800: test-artifacts/day-coordinator-*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from loans import borrowers, charter, mediation
from loans.tables import Borrower, BorrowerContact, Charter, Programme
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.support import CHARTER_TEXT, run
from web.accounts import create_user
from web.tables import FunderProgramme

pytestmark = pytest.mark.db

PROGRAMME = "Équiper les familles 2027"
FUNDER = "financeur-departement"


def shoot(page: Any, step: str) -> None:
    shoot_widths(page, f"day-coordinator-{step}")


def submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def no_exception_text(page: Any) -> None:
    html = page.content()
    assert "Traceback" not in html and "Exception" not in html and "Error:" not in html


@pytest.fixture
def day(db: None, server: str, browser: Any) -> Iterator[dict[str, Any]]:
    """What the day starts with: a charter in force, a family, a funder's account, and
    collective workshops planned for two mediators."""
    run(charter.create_version("Charte de prêt", CHARTER_TEXT, date.today() - timedelta(30), "t"))
    family = run(
        borrowers.create_borrower(
            borrowers.BorrowerIn(
                full_name="Camille Durand",
                phone="06 12 34 56 78",
                email="camille.durand@example.org",
                address="12 rue des Lilas, 69008 Lyon",
                commune="Lyon",
                insee_code="69123",
                children_count=2,
            )
        )
    )
    other = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sacha Martin")))
    for name in ("mediatrice-nord", "mediateur-sud"):
        run(create_user(name, PASSWORD, "mediator"))
    soon = date.today() + timedelta(days=5)
    for planned_on, mediator, label in (
        (soon, "mediatrice-nord", "Atelier courriel"),
        (soon + timedelta(days=2), "mediateur-sud", "Atelier démarches"),
    ):
        workshop = mediation.WorkshopIn(
            planned_on=planned_on, mediator=mediator, label=label, borrower_ids=[other["id"]]
        )
        run(mediation.create_workshop(workshop, "t"))
    run(create_user(FUNDER, PASSWORD, "funder"))
    run(create_user("coordinatrice", PASSWORD, "coordinator"))
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="fr-FR", accept_downloads=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "coordinatrice")
    yield {"page": page, "family": family}
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def test_a_coordinators_day(day: dict[str, Any], server: str, tmp_path: Path) -> None:
    page = day["page"]

    # 1. A new version of the loan charter, previewed, then published from today.
    page.goto(f"{server}/charters")
    page.click("#new-version")
    page.wait_for_url(f"{server}/charters/new")
    page.fill("#title", "Charte de prêt 2027")
    page.fill("#text", CHARTER_TEXT + "\n- Je signale tout **vol** sous 48 heures.\n")
    page.fill("#in_force_from", date.today().isoformat())
    submit(page, "form#charter-form button#preview")
    assert "48 heures" in page.inner_text("#charter-preview")
    assert run(Charter.count()) == 1  # a preview saves nothing
    shoot(page, "1-charter-preview")
    submit(page, "form#charter-form button#publish")
    page.wait_for_url(re.compile(r"/charters/2$"))
    assert run(Charter.count()) == 2
    assert "48 heures" in page.inner_text("main")
    no_exception_text(page)
    shoot(page, "1-charter-published")

    # 2. A programme with its follow-ups and a deposit in euros.
    page.goto(f"{server}/programmes")
    page.click("#new-programme")
    page.fill("#name", PROGRAMME)
    page.fill("#funder", "Département du Rhône")
    page.fill("#starts_on", "2027-01-01")
    page.fill("#ends_on", "2027-12-31")
    page.fill("#followups", "prise en main ; 7\nusages ; 30")
    page.fill("#default_loan_days", "365")
    page.fill("#deposit", "35")
    submit(page, "form#programme button[type=submit]")
    assert re.search(r"/programmes/\d+\?saved=1$", page.url)
    programme = run(Programme.select().where(Programme.name == PROGRAMME).first())
    assert programme["deposit_cents"] == 3500
    shoot(page, "2-programme")

    # 3. The funder's account is linked to it on the accounts page.
    page.goto(f"{server}/accounts")
    shoot(page, "3-accounts")
    page.click(f"#accounts a:has-text('{FUNDER}')")
    page.wait_for_url(re.compile(r"/accounts/\d+$"))
    page.select_option("#programme_id", label=PROGRAMME)
    submit(page, "form#programme-form button[type=submit]")
    assert PROGRAMME in page.inner_text("#funder-programmes")
    links = run(FunderProgramme.select().where(FunderProgramme.programme == programme["id"]))
    assert len(links) == 1 and links[0]["created_by"]
    shoot(page, "3-funder-linked")
    # The programme's page shows the link, read-only.
    page.goto(f"{server}/programmes/{programme['id']}")
    assert FUNDER in page.inner_text("#funder-accounts")

    # 4. A family asks for its data (JSON and PDF), then for its erasure.
    family = day["family"]
    page.goto(f"{server}/borrowers")
    page.fill("#q", "Durand")
    submit(page, "form#borrower-search button[type=submit]")
    page.click(f"a[href='/borrowers/{family['id']}']")
    page.wait_for_url(f"{server}/borrowers/{family['id']}")
    assert "06 12 34 56 78" in page.inner_text("#phone")
    shoot(page, "4-borrower")
    with page.expect_download() as got:
        page.click("#export-json")
    exported = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    assert "Camille Durand" in json.dumps(exported, ensure_ascii=False)
    assert exported["borrower"]["code"] == family["code"]
    with page.expect_download() as got:
        page.click("#export-pdf")
    pdf = Path(got.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    submit(page, "form#erase button[type=submit]")
    assert "confirmer" in page.inner_text("#error")  # not without the box ticked
    assert (
        run(Borrower.select().where(Borrower.id == family["id"]).first())["anonymised_at"] is None
    )
    page.check("#confirm")
    submit(page, "form#erase button[type=submit]")
    assert family["code"] in page.inner_text("#erasure-sentence")
    assert "Camille Durand" not in page.inner_text("main")
    erased = run(Borrower.select().where(Borrower.id == family["id"]).first())
    assert erased["anonymised_at"] is not None
    contact = run(BorrowerContact.select().where(BorrowerContact.borrower == family["id"]).first())
    assert contact is None or not contact["full_name"]
    no_exception_text(page)
    shoot(page, "4-borrower-erased")

    # 5. The agenda of every mediator, then of one.
    page.goto(f"{server}/agenda")
    agenda = page.inner_text("#agenda")
    assert "Atelier courriel" in agenda and "Atelier démarches" in agenda
    assert "mediatrice-nord" in agenda and "mediateur-sud" in agenda
    shoot(page, "5-agenda-all")
    page.select_option("#mediator", "mediateur-sud")
    submit(page, "form#filter button[type=submit]")
    agenda = page.inner_text("#agenda")
    assert "Atelier démarches" in agenda and "Atelier courriel" not in agenda
    assert page.input_value("#mediator") == "mediateur-sud"
    no_exception_text(page)
    shoot(page, "5-agenda-one")
