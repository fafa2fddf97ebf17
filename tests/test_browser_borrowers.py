"""Borrowers and organisations in real Chromium: a mediator's school, class set and family loan,
finding the family's phone; a coordinator's export and erasure. No API call in the steps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loans import borrowers
from loans.tables import Borrower, BorrowerContact, Loan, LoanDevice, Organisation, Signature
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.support import loan_setup, ready_devices, run
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def open_as(db: None, server: str, browser: Any) -> Iterator[Callable[[str, str], Any]]:
    contexts = []

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
    shoot_widths(page, f"borrowers-{name}")


def draw_signature(page: Any) -> None:
    page.locator("#signature-pad").scroll_into_view_if_needed()
    box = page.locator("#signature-pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + box["height"] * 0.8)
    page.mouse.down()
    for step in range(1, 25):
        page.mouse.move(
            x + 20 + step * box["width"] / 30,
            y + box["height"] * (0.8 - 0.6 * ((step % 5) / 5)),
            steps=2,
        )
    page.mouse.up()


def submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def test_a_mediators_school_class_set_and_family_loan(open_as: Any, server: str) -> None:
    run(loan_setup())
    tags = run(ready_devices(4))
    page = open_as("mediatrice", "mediator")

    # A school, its commune chosen by name: "Saint-Denis" is shared, the form lists the choices.
    page.goto(f"{server}/organisations/new")
    page.fill("#name", "École Jean Moulin")
    page.select_option("#kind", "school")
    page.fill("#commune", "Saint-Denis")
    submit(page, "form#organisation button[type=submit]")
    assert "plusieurs communes" in page.locator("#error").inner_text()
    assert page.input_value("#name") == "École Jean Moulin"  # what was typed stays
    assert page.input_value("#commune") == "Saint-Denis"
    choices = page.locator("#commune-choices").inner_text()
    assert "93" in choices and "974" in choices
    assert run(Organisation.count()) == 0
    shoot(page, "organisation-choices")
    page.locator("#commune-choices input[value='93066']").check()
    submit(page, "form#organisation button[type=submit]")
    assert page.url.endswith("/organisations")
    assert "Saint-Denis (93)" in page.locator("#organisations").inner_text()
    school = run(Organisation.select().first())
    assert (school["name"], school["commune"], school["insee_code"]) == (
        "École Jean Moulin",
        "Saint-Denis",
        "93066",
    )
    shoot(page, "organisations")

    # Suggestions while typing (organisations.js fills the datalist from the JSON endpoint).
    page.goto(f"{server}/organisations/new")
    page.locator("#commune").press_sequentially("st eti", delay=30)
    page.wait_for_function("() => document.querySelectorAll('#commune-list option').length > 0")
    assert page.locator("#commune-list option").first.get_attribute("value") == (
        "Saint-Étienne (42)"
    )

    # A class set of three laptops lent to the school; its representative signs.
    page.goto(f"{server}/organisations")
    page.locator("#organisations a", has_text="Prêter").first.click()
    page.wait_for_url(f"{server}/loans/new?organisation_id=*")
    assert page.input_value("#organisation_id") == str(school["id"])
    page.fill("#tags", "\n".join(tags[:3]))
    page.fill("#signer_name", "Mme Leroy, directrice")
    page.select_option("#signer_role", "school_representative")
    draw_signature(page)
    submit(page, "#submit")
    assert "/loans/" in page.url and "/loans/new" not in page.url
    loan = run(Loan.select().order_by(Loan.id, ascending=False).first())
    borrower = run(borrowers.get_borrower(loan["borrower"]))
    assert (borrower["kind"], borrower["organisation"]) == ("organisation", school["id"])
    assert run(LoanDevice.count().where(LoanDevice.loan == loan["id"])) == 3
    signature = run(Signature.select().where(Signature.loan == loan["id"]).first())
    assert signature["signer_role"] == "school_representative"

    # A family with a minor: the wrong signer is refused and the form keeps what was typed.
    page.goto(f"{server}/loans/new")
    shoot(page, "checkout")
    page.click("#new-household summary")
    page.fill("#new_full_name", "Inès Benali")
    page.fill("#new_phone", "06 12 34 56 78")
    page.check("#new_is_minor")
    page.fill("#new_guardian_name", "Karim Benali")
    page.fill("#new_commune", "st etienne")
    page.fill("#tags", tags[3])
    page.fill("#signer_name", "Inès Benali")
    page.select_option("#signer_role", "self")
    draw_signature(page)
    before = run(Borrower.count())
    submit(page, "#submit")
    assert "représentant légal" in page.locator("#error").inner_text()
    assert run(Borrower.count()) == before
    assert page.input_value("#new_full_name") == "Inès Benali"
    assert page.input_value("#new_phone") == "06 12 34 56 78"
    assert page.input_value("#new_guardian_name") == "Karim Benali"
    assert page.is_checked("#new_is_minor")
    assert page.input_value("#tags").strip() == tags[3]
    page.fill("#signer_name", "Karim Benali")
    page.select_option("#signer_role", "legal_guardian")
    draw_signature(page)
    submit(page, "#submit")
    assert "/loans/new" not in page.url
    family = run(Borrower.select().order_by(Borrower.id, ascending=False).first())
    contact = run(BorrowerContact.select().where(BorrowerContact.borrower == family["id"]).first())
    assert (family["insee_code"], family["commune"], family["is_minor"]) == (
        "42218",
        "Saint-Étienne",
        True,
    )
    assert contact["guardian_name"] == "Karim Benali"

    # Later, the mediator finds the family's phone to call.
    page.goto(f"{server}/borrowers")
    page.fill("#q", "benali")
    submit(page, "form#borrower-search button[type=submit]")
    rows = page.locator("#borrowers tbody tr")
    assert rows.count() == 1 and "06 12 34 56 78" in rows.inner_text()
    shoot(page, "list")
    rows.locator("a").first.click()
    page.wait_for_url(f"{server}/borrowers/{family['id']}")
    assert page.locator("#phone a").get_attribute("href") == "tel:0612345678"
    assert page.locator("#guardian").inner_text() == "Karim Benali"
    assert "Saint-Étienne (42)" in page.locator("#commune").inner_text()
    assert "PDF" in page.locator("#loans").inner_text()
    shoot(page, "card")
    # A mediator may not erase: no form for it.
    assert page.locator("form#erase").count() == 0


def test_a_coordinator_exports_and_erases_a_borrower(
    open_as: Any, server: str, tmp_path: Path
) -> None:
    run(loan_setup())
    lou = run(
        borrowers.create_borrower(
            borrowers.BorrowerIn(full_name="Lou Martin", phone="07 00 00 00 07", commune="Lyon")
        )
    )
    page = open_as("coordination", "coordinator")
    page.goto(f"{server}/borrowers?q={lou['code']}")
    page.locator("#borrowers a", has_text=lou["code"]).click()
    page.wait_for_url(f"{server}/borrowers/{lou['id']}")

    # Edit: a refusal keeps what was typed; a correction is saved.
    page.click("#edit")
    page.fill("#phone", "07 11 22 33 44")
    page.fill("#commune", "Nulle-Part-sur-Rien")
    submit(page, "form#borrower button[type=submit]")
    assert "aucune commune" in page.locator("#error").inner_text()
    assert page.input_value("#phone") == "07 11 22 33 44"
    assert page.locator("#commune").get_attribute("aria-invalid") == "true"
    page.fill("#commune", "Lyon")
    submit(page, "form#borrower button[type=submit]")
    assert run(borrowers.get_contact(lou["id"]))["phone"] == "07 11 22 33 44"
    assert run(borrowers.get_borrower(lou["id"]))["insee_code"] == "69123"

    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["contact"]["full_name"] == "Lou Martin"
    with page.expect_download() as download:
        page.click("#export-pdf")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"

    # Erasure: refused without the confirmation, then done; the card says what is kept.
    submit(page, "#erase-submit")
    assert "confirmer" in page.locator("#error").inner_text()
    assert run(borrowers.get_contact(lou["id"])) is not None
    page.check("#confirm")
    submit(page, "#erase-submit")
    sentence = page.locator("#erasure-sentence").inner_text()
    assert "Gardé" in sentence and lou["code"] in sentence
    assert "Lou Martin" not in page.content()
    assert run(borrowers.get_contact(lou["id"])) is None
    assert run(borrowers.get_borrower(lou["id"]))["anonymised_at"] is not None
