"""A mediator's whole day in real Chromium against the real server (issue 12, "Done when").

Set up beforehand with services, only what a mediator does not do: ready devices, the mediator's
account, the charter in force and a programme (a coordinator's work). Every step after that is a
page a mediator opens and a form they fill, with no API call:

1. a new school as a borrower (/organisations/new, commune chosen by name);
2. a class-set loan to it (/loans/new, the school's representative signs);
3. a family loan, the child being a minor: the guardian signs (/loans/new, new household);
4. a signing link for another family (/borrowers/new, then the link from /loans/new), which the
   family signs on its own phone;
5. a device brought back for repair (/returns);
6. a follow-up session recorded, then corrected (/agenda, /sessions/…);
7. a collective workshop with the two families, and who came (/workshops/new);
8. a family's phone found to call them (/borrowers search, the card's tel: link).

Each step's page is saved at 390x844 and 1280x800 as test-artifacts/day-mediator-*.png, and
must not scroll sideways at either width.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from inventory.tables import Device
from loans import borrowers, charter
from loans.tables import Borrower, Loan, MediationSession, RepairTicket
from tests.browser import PASSWORD, login, requests_leaving
from tests.browser import shoot as shoot_widths
from tests.support import CHARTER_TEXT, ready_devices, run
from web.accounts import create_user

pytestmark = pytest.mark.db


def shoot(page: Any, step: str) -> None:
    shoot_widths(page, f"day-mediator-{step}")


def draw_signature(page: Any) -> None:
    """A stroke of the pen on the canvas, with Chromium's pointer events."""
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


def loan_of(tag: str) -> dict:
    device = run(Device.select(Device.id).where(Device.asset_tag == tag).first())
    from loans.tables import LoanDevice

    link = run(LoanDevice.select(LoanDevice.loan).where(LoanDevice.device == device["id"]).first())
    return run(Loan.select().where(Loan.id == link["loan"]).first())


def test_a_mediators_day(db: None, server: str, browser: Any) -> None:
    # What a mediator does not do: devices made ready, accounts, the charter, a programme.
    tags = run(ready_devices(6))
    run(create_user("mediatrice", PASSWORD, "mediator"))
    run(charter.create_version("Charte de prêt", CHARTER_TEXT, date.today() - timedelta(1), "c"))
    programme = run(borrowers.create_programme("Ordinateurs pour tous", "Département"))

    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="fr-FR", has_touch=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "mediatrice")

    # 1. A new school as a borrower, its commune chosen by name.
    page.goto(f"{server}/organisations/new")
    page.fill("#name", "École Jules Ferry")
    page.select_option("#kind", "school")
    page.fill("#commune", "Villeurbanne")
    shoot(page, "1-school")
    page.locator("form#organisation button[type=submit]").click()
    page.wait_for_url(f"{server}/organisations")
    assert "École Jules Ferry" in page.locator("main").inner_text()

    # 2. A class set lent to the school; its representative signs on the tablet.
    page.goto(f"{server}/loans/new")
    school = page.locator("#organisation_id option", has_text="École Jules Ferry")
    page.select_option("#organisation_id", school.get_attribute("value"))
    page.select_option("#programme_id", str(programme["id"]))
    page.fill("#tags", "\n".join(tags[:3]))
    page.fill("#signer_name", "Claire Directrice")
    page.select_option("#signer_role", "school_representative")
    draw_signature(page)
    shoot(page, "2-class-set")
    page.locator("form#checkout button#submit").click()
    page.wait_for_url(re.compile(r"/loans/\d+$"))
    class_loan = loan_of(tags[0])
    assert loan_of(tags[2])["id"] == class_loan["id"]

    # 3. A family loan for a child: the guardian signs.
    page.goto(f"{server}/loans/new")
    page.locator("details#new-household summary").click()
    page.fill("#new_full_name", "Léa Moreau")
    page.fill("#new_phone", "06 11 22 33 44")
    page.fill("#new_address", "3 rue des Tilleuls, 69100 Villeurbanne")
    page.check("#new_is_minor")
    page.fill("#new_guardian_name", "Karim Moreau")
    page.fill("#new_commune", "Villeurbanne")
    page.select_option("#programme_id", str(programme["id"]))
    page.fill("#tags", tags[3])
    page.check("#acc_chargeur")
    page.fill("#signer_name", "Karim Moreau")
    page.select_option("#signer_role", "legal_guardian")
    draw_signature(page)
    shoot(page, "3-family-loan")
    page.locator("form#checkout button#submit").click()
    page.wait_for_url(re.compile(r"/loans/\d+$"))
    family_loan = loan_of(tags[3])
    family = run(Borrower.select().where(Borrower.id == family_loan["borrower"]).first())
    assert family["is_minor"] and family_loan["status"] == "open"

    # 4. Another family signs at home through a one-time link.
    page.goto(f"{server}/borrowers/new")
    page.fill("#full_name", "Nadia Benali")
    page.fill("#phone", "07 55 44 33 22")
    page.fill("#commune", "Villeurbanne")
    page.locator("form#borrower button[type=submit]").click()
    page.wait_for_url(re.compile(r"/borrowers/\d+$"))
    page.goto(f"{server}/loans/new")
    nadia = page.locator("#borrower_id option", has_text="Nadia Benali")
    page.select_option("#borrower_id", nadia.get_attribute("value"))
    page.select_option("#programme_id", str(programme["id"]))
    page.fill("#tags", tags[4])
    page.locator("form#checkout button#create-link").click()
    page.wait_for_selector("#link-url")
    url = page.locator("#link-url").get_attribute("href")
    assert page.locator("#link-qr").is_visible()
    shoot(page, "4-signing-link")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    at_home = phone.new_page()
    at_home.goto(url)
    at_home.fill("#signer_name", "Nadia Benali")
    draw_signature(at_home)
    at_home.locator("form#checkout button#submit").click()
    at_home.wait_for_selector("#signed")
    phone.close()
    link_loan = loan_of(tags[4])
    assert link_loan["status"] == "open"

    # 5. The family's device comes back for repair: the loan stays open.
    page.goto(f"{server}/returns")
    page.fill("#tag", tags[3])
    page.check("#charger")
    page.check("#reason_repair")
    page.fill("#damage_notes", "L'écran reste noir au démarrage")
    page.locator("form[action='/returns'] button[type=submit]").click()
    page.wait_for_selector("#done")
    shoot(page, "5-repair-return")
    assert run(RepairTicket.count().where(RepairTicket.loan == family_loan["id"])) == 1
    assert run(Loan.select(Loan.status).where(Loan.id == family_loan["id"]).first())["status"] == (
        "open"
    )

    # 6. The family's first follow-up: recorded, then corrected.
    page.goto(f"{server}/agenda")
    row = page.locator("#agenda tbody tr", has_text=family["code"]).filter(has_text="prise en main")
    row.locator("a", has_text="prise en main").click()
    page.wait_for_selector("form#record")
    page.check("#status_done")
    page.select_option("#place_type", "domicile")
    page.fill("#commune", "Villeurbanne")
    page.fill("#duration_minutes", "45")
    page.check("#theme_prendre_en_main_du_materiel")
    page.select_option("#autonomy", "entierement_accompagne")
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    page.locator("details#correction summary").click()
    page.fill("#duration_minutes", "75")
    page.check("#theme_email")
    page.locator("form#correct button[type=submit]").click()
    page.wait_for_selector("#done")
    history = page.locator("#history").inner_text()
    assert "Séance enregistrée" in history and "Séance corrigée" in history
    assert "45 min → 75 min" in history
    shoot(page, "6-session-corrected")

    # 7. A collective workshop with both families; one of them came.
    page.goto(f"{server}/borrowers?q=Benali")
    nadia_code = page.locator("#borrowers a.code").first.inner_text()
    page.goto(f"{server}/workshops/new")
    page.fill("#planned_on", date.today().isoformat())
    page.fill("#label", "Atelier : sa messagerie")
    page.fill("#participants", f"{family['code']}\n{nadia_code}")
    page.locator("form#new-workshop button[type=submit]").click()
    page.wait_for_selector("form#record, #error")
    assert page.locator("#error").count() == 0, page.locator("#error").inner_text()
    page.check("#status_done")
    page.select_option("#place_type", "lieu_activite")
    page.fill("#duration_minutes", "120")
    page.check("#theme_email")
    page.select_option("#autonomy", "partiellement_autonome")
    page.locator("fieldset.attendance label", has_text="Léa Moreau").locator("input").uncheck()
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert "présents : 1" in page.locator("#participants").inner_text()
    shoot(page, "7-workshop")
    workshop = run(MediationSession.select().where(MediationSession.collective.eq(True)).first())
    assert workshop["status"] == "done"

    # 8. Find the family's phone to call them.
    page.goto(f"{server}/borrowers")
    page.fill("#q", "moreau")
    page.locator("form#borrower-search button[type=submit]").click()
    page.wait_for_url(re.compile(r"/borrowers\?q=moreau"))
    page.locator("#borrowers a", has_text="Léa Moreau").click()
    page.wait_for_selector("#phone a")
    assert page.locator("#phone a").get_attribute("href") == "tel:0611223344"
    shoot(page, "8-family-phone")

    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"
