"""Programmes and /admin in real Chromium: a coordinator's programme, an administrator's admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from inventory.tables import Event
from loans import borrowers
from loans.tables import Programme
from tests.browser import PASSWORD, login, requests_leaving, shoot
from tests.support import new_donation, run
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def open_as(db: None, server: str, browser: Any) -> Iterator[Any]:
    """open_as(username, role) -> a logged-in page at 1280x800, in French."""
    contexts: list[tuple[Any, list[str]]] = []

    def open_page(username: str, role: str) -> Any:
        run(create_user(username, PASSWORD, role))
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        contexts.append((context, requests_leaving(context, server)))
        page = context.new_page()
        login(page, server, username)
        return page

    yield open_page
    for context, outside in contexts:
        context.close()
        assert not outside, f"requests left the workshop's server: {outside[:5]}"


def submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"form#{form} button[type=submit]").click()


def test_coordinator_creates_edits_and_archives_a_programme(open_as: Any, server: str) -> None:
    page = open_as("coordinatrice", "coordinator")
    page.goto(f"{server}/programmes")
    assert page.locator("nav a[href='/programmes']").count() == 1
    page.click("#new-programme")
    page.wait_for_url(f"{server}/programmes/new")
    page.fill("#name", "Équiper les familles 2027")
    page.fill("#funder", "Département du Rhône")
    page.fill("#starts_on", "2027-01-01")
    page.fill("#ends_on", "2027-12-31")
    page.fill("#followups", "prise en main ; 7\nusages ; 30\nbilan ; 90")
    page.fill("#default_loan_days", "180")
    page.fill("#deposit", "35,50")
    shoot(page, "programme-new")
    submit(page, "programme")
    assert re.search(r"/programmes/\d+\?saved=1$", page.url)
    assert "enregistré" in page.inner_text("#saved")
    row = run(
        Programme.select()
        .where(Programme.name == "Équiper les familles 2027")
        .first()
        .output(load_json=True)
    )
    assert row["deposit_cents"] == 3550
    assert row["default_loan_days"] == 180
    assert [s["days"] for s in row["followups"]] == [7, 30, 90]
    assert row["followups"][2]["label"] == "bilan"
    # The form shows it back as typed: euros, lines.
    assert page.input_value("#deposit") == "35,50"
    assert page.input_value("#followups") == "prise en main ; 7\nusages ; 30\nbilan ; 90"
    assert page.locator("#accounts-link").get_attribute("href") == "/accounts"
    shoot(page, "programme-edit")

    # Edit: a deposit in whole euros, one follow-up less.
    page.fill("#deposit", "40")
    page.fill("#followups", "prise en main ; 10\nusages ; 30")
    submit(page, "programme")
    row = run(Programme.select().where(Programme.id == row["id"]).first().output(load_json=True))
    assert row["deposit_cents"] == 4000
    assert [(s["label"], s["days"]) for s in row["followups"]] == [
        ("prise en main", 10),
        ("usages", 30),
    ]
    changed = run(Event.select().where(Event.kind == "programme_updated").first())
    assert changed is not None and changed["actor"] == "coordinatrice"

    # The list: funder, dates, follow-ups, duration, deposit in euros, loans.
    page.goto(f"{server}/programmes")
    line = page.inner_text(f"#programme-{row['id']}")
    for words in ("Département du Rhône", "1 janv. 2027", "prise en main (10 j)", "180 jours"):
        assert words in line, (words, line)
    assert "40,00\u00a0€" in line
    assert "Cents" not in page.content()
    shoot(page, "programmes")

    # Archive: a reason is needed; then it is archived and takes no new loan.
    page.goto(f"{server}/programmes/{row['id']}")
    submit(page, "archive")
    assert "pourquoi" in page.inner_text("#error").lower()
    assert run(Programme.select().where(Programme.id == row["id"]).first())["archived_at"] is None
    page.fill("#reason", "Fin du financement")
    submit(page, "archive")
    page.wait_for_url(f"{server}/programmes")
    assert "Archivé le" in page.inner_text(f"#programme-{row['id']}")
    assert run(Programme.select().where(Programme.id == row["id"]).first())["archived_at"]
    page.goto(f"{server}/loans/new")
    assert page.locator(f"#programme_id option[value='{row['id']}']").count() == 0


def test_a_refused_programme_keeps_what_was_typed(open_as: Any, server: str) -> None:
    run(borrowers.create_programme("Fondation Numérique", "Fondation X"))
    page = open_as("coordinateur", "coordinator")
    page.goto(f"{server}/programmes/new")
    page.fill("#name", "Prêts d'été")
    page.fill("#funder", "Métropole")
    page.fill("#followups", "prise en main ; sept")
    page.fill("#deposit", "35,00")
    submit(page, "programme")
    assert "ligne 1" in page.inner_text("#error")
    assert page.get_attribute("#followups", "aria-invalid") == "true"
    assert page.input_value("#name") == "Prêts d'été"
    assert page.input_value("#funder") == "Métropole"
    assert page.input_value("#deposit") == "35,00"
    assert page.input_value("#followups") == "prise en main ; sept"
    shoot(page, "programme-refused")

    page.fill("#followups", "prise en main ; 7")
    page.fill("#deposit", "trente-cinq")
    submit(page, "programme")
    assert "euros" in page.inner_text("#error")
    assert page.get_attribute("#deposit", "aria-invalid") == "true"
    assert page.input_value("#followups") == "prise en main ; 7"

    page.fill("#deposit", "-5")
    submit(page, "programme")
    assert page.get_attribute("#deposit", "aria-invalid") == "true"

    page.fill("#deposit", "35")
    page.fill("#starts_on", "2027-06-30")
    page.fill("#ends_on", "2027-06-01")
    submit(page, "programme")
    assert "précède" in page.inner_text("#error")
    assert page.get_attribute("#ends_on", "aria-invalid") == "true"

    page.fill("#ends_on", "2027-09-01")
    page.fill("#name", "Fondation Numérique")
    submit(page, "programme")
    assert "existe déjà" in page.inner_text("#error")
    assert page.get_attribute("#name", "aria-invalid") == "true"
    assert run(Programme.count()) == 1  # nothing was saved
    assert "Traceback" not in page.content()

    page.fill("#name", "Prêts d'été")
    submit(page, "programme")
    assert re.search(r"/programmes/\d+\?saved=1$", page.url)
    assert run(Programme.count()) == 2


def test_a_coordinator_has_no_admin_and_an_admin_reads_it_in_french(
    open_as: Any, server: str
) -> None:
    run(new_donation())  # a site and a donor for the admin's lists
    coordinator = open_as("coordinatrice", "coordinator")
    assert coordinator.locator("nav a[href='/admin/']").count() == 0
    answer = coordinator.goto(f"{server}/admin/")
    assert answer.status == 403
    text = coordinator.inner_text("body")
    assert "Traceback" not in text and "{" not in text
    shoot(coordinator, "admin-refused-coordinator")

    admin = open_as("administratrice", "admin")
    admin.click("nav a[href='/admin/']")
    admin.wait_for_url(f"{server}/admin/**")
    admin.get_by_text("Bienvenue dans").first.wait_for()
    admin.get_by_text("Donateurs").first.wait_for()
    sidebar = admin.inner_text("body")
    for words in ("Tables", "Référentiel", "Sites", "Donateurs", "Personnes", "Rôles", "Jetons"):
        assert words.lower() in sidebar.lower(), (words, sidebar)
    for english in ("Piccolo User", "Staff Role", "Api Token", "Donor", "Welcome"):
        assert english.lower() not in sidebar.lower(), (english, sidebar)
    for gone in ("programme", "organisation", "borrower", "charter", "device"):
        assert admin.locator(f"a[href*='/{gone}']").count() == 0, gone
    assert admin.locator("html").get_attribute("lang") == "fr"
    shoot(admin, "admin-home")
    admin.get_by_text("Sites").first.click()
    admin.wait_for_url(re.compile(r"/admin/#/site"))
    admin.get_by_text("Adresse").first.wait_for()
    body = admin.inner_text("body")
    for words in ("Sites", "Nom", "Téléphone", "Archivé le"):
        assert words.lower() in body.lower(), (words, body)
    assert "Cents" not in body and "Archived At" not in body and "Phone" not in body
    assert "NULL" not in body
    labels = admin.eval_on_selector_all("option[label]", "all => all.map(o => o.label)")
    assert labels and not [x for x in labels if "per page" in x], labels
    shoot(admin, "admin-sites")
    admin.get_by_text("Ajouter une ligne").first.click()
    admin.get_by_text("Téléphone").first.wait_for()
    form = admin.inner_text("body")
    assert "Phone" not in form and "Archived" not in form, form
    shoot(admin, "admin-site-new")


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("35", 3500), ("35,00", 3500), ("35,5", 3550), ("35.50 €", 3550), ("1 200", 120000), ("", 0)],
)
def test_a_deposit_is_typed_in_euros(typed: str, cents: int) -> None:
    from web.pages.programmes import deposit_cents, deposit_text

    assert deposit_cents(typed) == cents
    assert deposit_cents(deposit_text(cents)) == cents


@pytest.mark.parametrize("typed", ["35,555", "-5", "trente", "35,,0", "€"])
def test_a_deposit_that_is_no_amount_is_refused(typed: str) -> None:
    from loans.programmes import FieldInvalid
    from web.pages.programmes import deposit_cents

    if typed == "€":
        assert deposit_cents(typed) == 0  # only the currency sign: nothing typed
        return
    with pytest.raises(FieldInvalid) as refused:
        deposit_cents(typed)
    assert refused.value.field == "deposit"


def test_follow_ups_are_read_line_by_line() -> None:
    from loans.programmes import FieldInvalid
    from web.pages.programmes import followup_lines, followups_text

    plan = followup_lines("prise en main ; 7\r\n\n  usages;30 jours \nbilan ; 90 j")
    assert plan == [
        {"label": "prise en main", "days": 7},
        {"label": "usages", "days": 30},
        {"label": "bilan", "days": 90},
    ]
    assert followup_lines(followups_text(plan)) == plan
    assert followup_lines("") == []
    for wrong in ("prise en main", "prise en main ; ", "; 7", "a ; -3"):
        with pytest.raises(FieldInvalid):
            followup_lines(wrong)
