"""A membership programme in real Chromium (issue #14): a 35 € membership and a 50 € deposit taken
at checkout, shown on the loan page and in the signed charter, the deposit refunded at the return,
a public body's laptop sold to the member above the legal cap (warned, then confirmed), the
self-audit clean and the figures in the funder report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from inventory.tables import Event
from loans import memberships
from loans.tables import Deposit, Membership, Programme
from tests.browser import PASSWORD, login, requests_leaving, shoot
from tests.money_support import audit_then_clean, must, public_devices
from tests.support import loan_setup, ready_devices, run
from tests.test_browser_loans import draw_signature, pdf_text
from web.accounts import create_user

pytestmark = pytest.mark.db

REEMPLOI = str(Path(sys.executable).parent / "reemploi")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real server, with a threshold of 1 so the report shows this small scenario's counts."""
    from tests.server import running_server

    with running_server(workers=1, env={**os.environ, "REEMPLOI_REPORT_THRESHOLD": "1"}) as url:
        yield url


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A coordinator's page (programmes, loans and reports) on a tablet-sized screen."""
    run(create_user("coordinatrice", PASSWORD, "coordinator"))
    context = browser.new_context(
        viewport={"width": 1024, "height": 1366}, locale="fr-FR", has_touch=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "coordinatrice")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"
    audit_then_clean()


def test_a_membership_programme_from_checkout_to_the_funder_report(
    page: Any, server: str, tmp_path: Path
) -> None:
    setup = run(loan_setup())
    borrower = setup["borrower"]
    (tag,) = run(ready_devices(1))
    (public,) = run(public_devices(1))

    # The programme: membership 35 € for the calendar year, deposit 50 €, the family profile.
    page.goto(f"{server}/programmes/new")
    page.fill("#name", "Un ordinateur pour tous")
    page.fill("#funder", "Département")
    page.check("#membership_required")
    page.fill("#membership_fee", "35")
    page.select_option("#membership_validity", "calendar_year")
    page.fill("#deposit", "50")
    page.select_option("#imaging_profile", "famille")
    page.click("#save")
    page.wait_for_url(re.compile(r"/programmes/\d+\?saved=1$"))
    programme = run(Programme.select().where(Programme.name == "Un ordinateur pour tous").first())
    assert programme is not None
    assert (programme["membership_fee_cents"], programme["deposit_cents"]) == (3500, 5000)
    assert programme["imaging_profile"] == "famille"

    # Checkout: refused while the membership is neither paid nor waived, then recorded.
    page.goto(f"{server}/loans/new")
    page.select_option("#borrower_id", str(borrower["id"]))
    page.select_option("#programme_id", str(programme["id"]))
    assert "adhésion 35,00" in page.inner_text("#programme_id")
    page.fill("#tags", tag)
    page.fill("#signer_name", "Camille Durand")
    page.select_option("#signer_role", "self")
    draw_signature(page)
    page.click("#submit")
    assert "L'adhésion de 35,00 € est due" in page.inner_text("#error")
    assert run(Membership.count()) == 0
    page.select_option("#membership_payment", "paid")
    page.select_option("#membership_method", "cash")
    page.select_option("#deposit_payment", "paid")
    page.select_option("#deposit_method", "cheque")
    draw_signature(page)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/loans/\d+$"))
    loan_id = int(page.url.rsplit("/", 1)[1])
    membership_text = page.inner_text("#membership")
    deposit_text = page.inner_text("#deposit")
    assert "35,00" in membership_text and "Payée" in membership_text, membership_text
    assert "Espèces" in membership_text and "31 déc." in membership_text, membership_text
    assert "50,00" in deposit_text and "Encaissé" in deposit_text, deposit_text
    assert "Chèque" in deposit_text
    assert "Adhésion payée" in page.inner_text(".timeline")
    shoot(page, "loan-membership")

    # The signed charter says both.
    response = page.request.get(server + page.get_attribute("#charter-pdf", "href"))
    text = pdf_text(response.body(), tmp_path)
    assert re.search(r"Adhésion\s+35,00 € — payé \(espèces\)", text), text
    assert re.search(r"Dépôt de garantie\s+50,00 € — payé \(chèque\)", text), text

    # The return refunds the deposit.
    page.goto(f"{server}/returns")
    page.fill("#tag", tag)
    page.check("#reason_end")
    page.check("#deposit_refunded")
    page.click("#return-submit")
    page.wait_for_selector("#done, #error")
    assert page.locator("#error").count() == 0, page.inner_text("#error")
    assert "Retour enregistré" in page.inner_text("#done")
    page.goto(f"{server}/loans/{loan_id}")
    assert "Rendu" in page.inner_text("#deposit")
    assert must(run(Deposit.select(Deposit.status).first()))["status"] == "refunded"

    # A public body's laptop sold to the member at 200 €: warned (cap 180 €), then confirmed.
    page.fill("#cession_tag", public)
    page.check("#kind_sold")
    page.fill("#cession_price", "200")
    page.click("#cession-submit")
    warning = page.inner_text("#cession-warning")
    assert "plafond légal de 180,00 €" in warning, warning
    assert run(devices.get_device(public))["state"] == "ready"
    page.check("#cession_confirm")
    page.click("#cession-submit")
    assert public in page.inner_text("#cession-done")
    sold = run(devices.get_device(public))
    assert sold["state"] == "retired"
    event = must(
        run(
            Event.select()
            .where((Event.device == sold["id"]) & (Event.kind == "retire"))
            .first()
            .output(load_json=True)
        )
    )
    assert event["payload"]["reason"] == "sold" and event["payload"]["price_cents"] == 20000
    assert event["payload"]["recipient_code"] == borrower["code"]
    assert event["payload"]["over_public_cap"] is True

    # The self-audit passes, through the command a coordinator runs.
    check = subprocess.run(
        [REEMPLOI, "check"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # The figures, from the events, and in the funder report page.
    today = date.today()
    figures = run(memberships.report_figures(programme["id"], today, today))
    assert figures == memberships.MembershipFigures(
        memberships_paid=1,
        membership_fees_cents=3500,
        deposits_taken=1,
        deposits_refunded=1,
        devices_sold=1,
        sales_cents=20000,
    )
    page.goto(f"{server}/reports/funder?programme={programme['id']}&from={today}&to={today}")

    def cell(key: str) -> str:
        return page.inner_text(f"td[data-key='{key}']").strip()

    assert cell("memberships_paid") == "1"
    assert cell("deposits_taken") == "1"
    assert cell("deposits_refunded") == "1"
    assert cell("devices_sold") == "1"
    assert "35" in cell("membership_fees") and "200" in cell("sales")
