"""Memberships, deposits and devices given or sold to members (issue #14): the services, their
events, the self-audit over them and the funder figures counted from the events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from inventory.commands import build
from inventory.errors import Conflict, FieldInvalid, Invalid
from inventory.tables import Event
from loans import cession, checkout, deposits, memberships, returns
from loans.tables import Deposit, Loan, Membership
from tests.money_support import audit_then_clean, clean, membership_programme, must, public_devices
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db


@pytest.fixture
def money(db: None) -> Iterator[None]:
    yield
    audit_then_clean()


def request(
    borrower_id: int, tags: list[str], programme_id: int, **dues: str
) -> checkout.CheckoutIn:
    return msgspec.convert(
        {"borrower_id": borrower_id, "tags": tags, "programme_id": programme_id, **dues},
        checkout.CheckoutIn,
    )


SIGNATURE = checkout.SignatureIn(
    checkout.SignatureMethod.drawn, signature_png(), "Camille Durand", checkout.SignerRole.self
)
PAID = {
    "membership_payment": "paid",
    "membership_method": "cash",
    "deposit_payment": "paid",
    "deposit_method": "cheque",
}


def kinds(loan_id: int) -> list[str]:
    rows = run(Event.select(Event.kind).where(Event.loan_id == loan_id).order_by(Event.id))
    return [r["kind"] for r in rows]


def test_checkout_refuses_an_unpaid_membership_and_writes_nothing(money: None) -> None:
    setup = run(loan_setup())
    programme = run(membership_programme())
    tags = run(ready_devices(1))
    borrower = setup["borrower"]["id"]
    with pytest.raises(FieldInvalid, match="L'adhésion de 35,00 € est due") as refused:
        run(checkout.checkout(request(borrower, tags, programme["id"]), SIGNATURE, "m"))
    assert refused.value.field == "membership_payment"
    only_membership = {k: v for k, v in PAID.items() if k.startswith("membership")}
    with pytest.raises(FieldInvalid, match="dépôt de garantie de 50,00 € est dû"):
        run(
            checkout.checkout(
                request(borrower, tags, programme["id"], **only_membership), SIGNATURE, "m"
            )
        )
    with pytest.raises(FieldInvalid, match="dites comment") as refused:
        paid_without_method = {**PAID, "membership_method": None}
        run(
            checkout.checkout(
                msgspec.structs.replace(
                    request(borrower, tags, programme["id"], **PAID), membership_method=None
                ),
                SIGNATURE,
                "m",
            )
        )
        assert paid_without_method
    assert refused.value.field == "membership_method"
    assert run(Loan.count()) == 0 and run(Membership.count()) == 0 and run(Deposit.count()) == 0


def test_membership_and_deposit_are_recorded_with_the_loan_and_counted(money: None) -> None:
    setup = run(loan_setup())
    programme = run(membership_programme())
    tags = run(ready_devices(2))
    borrower = setup["borrower"]["id"]
    loan = run(
        checkout.checkout(request(borrower, tags[:1], programme["id"], **PAID), SIGNATURE, "m")
    )
    membership = run(memberships.of_loan(loan["id"]))
    deposit = run(deposits.of_loan(loan["id"]))
    assert membership is not None and deposit is not None
    assert (membership["fee_cents"], membership["status"], membership["method"]) == (
        3500,
        "paid",
        "cash",
    )
    assert membership["valid_until"] == date(date.today().year, 12, 31)
    assert (deposit["amount_cents"], deposit["status"], deposit["method"]) == (
        5000,
        "paid",
        "cheque",
    )
    assert {"membership_paid", "deposit_paid", "loan_opened"} <= set(kinds(loan["id"]))
    # A second loan the same year: the membership is valid, only the deposit is due.
    deposit_only = {k: v for k, v in PAID.items() if k.startswith("deposit")}
    second = run(
        checkout.checkout(
            request(borrower, tags[1:], programme["id"], **deposit_only), SIGNATURE, "m"
        )
    )
    assert run(Membership.count()) == 1 and run(Deposit.count()) == 2
    assert must(run(memberships.of_loan(second["id"])))["id"] == membership["id"]
    today = date.today()
    figures = run(memberships.report_figures(programme["id"], today, today))
    assert figures == memberships.MembershipFigures(
        memberships_paid=1,
        membership_fees_cents=3500,
        deposits_taken=2,
        deposits_held_cents=10000,
    )
    assert run(memberships.report_figures(None, today, today)) == figures
    yesterday = today - timedelta(days=1)
    assert run(memberships.report_figures(programme["id"], yesterday, yesterday)) == (
        memberships.MembershipFigures()
    )


def test_a_return_refunds_the_deposit_once_and_a_kept_one_needs_its_reason(money: None) -> None:
    setup = run(loan_setup())
    programme = run(membership_programme())
    tags = run(ready_devices(2))
    borrower = setup["borrower"]["id"]
    first = run(
        checkout.checkout(request(borrower, tags[:1], programme["id"], **PAID), SIGNATURE, "m")
    )
    with pytest.raises(FieldInvalid, match="motif"):
        run(returns.check_in(tags[0], returns.ReturnIn("end", deposit_outcome="kept"), "m"))  # type: ignore[arg-type]
    done = run(
        returns.check_in(tags[0], returns.ReturnIn("end", deposit_outcome="refunded"), "m")  # type: ignore[arg-type]
    )
    assert done["status"] == "closed"
    assert must(run(deposits.of_loan(first["id"])))["status"] == "refunded"
    with pytest.raises(Conflict, match="n'est plus encaissé"):
        run(deposits.settle(first["id"], deposits.DepositSettleIn("refunded"), "m"))  # type: ignore[arg-type]
    deposit_only = {k: v for k, v in PAID.items() if k.startswith("deposit")}
    second = run(
        checkout.checkout(
            request(borrower, tags[1:], programme["id"], **deposit_only), SIGNATURE, "m"
        )
    )
    kept = run(
        deposits.settle(
            second["id"],
            deposits.DepositSettleIn("kept", "Écran cassé, non rendu"),  # type: ignore[arg-type]
            "m",
        )
    )
    assert kept["status"] == "kept"
    assert kinds(first["id"]).count("deposit_refunded") == 1
    today = date.today()
    figures = run(memberships.report_figures(programme["id"], today, today))
    assert (figures.deposits_taken, figures.deposits_refunded, figures.deposits_kept) == (2, 1, 1)
    assert figures.deposits_held_cents == 0


def test_a_waived_membership_and_deposit_cost_nothing(money: None) -> None:
    setup = run(loan_setup())
    programme = run(membership_programme())
    tags = run(ready_devices(1))
    waived = {"membership_payment": "waived", "deposit_payment": "waived"}
    loan = run(
        checkout.checkout(
            request(setup["borrower"]["id"], tags, programme["id"], **waived), SIGNATURE, "m"
        )
    )
    assert must(run(memberships.of_loan(loan["id"])))["status"] == "waived"
    assert must(run(deposits.of_loan(loan["id"])))["amount_cents"] == 0
    with pytest.raises(Conflict):
        run(deposits.settle(loan["id"], deposits.DepositSettleIn("refunded"), "m"))  # type: ignore[arg-type]
    today = date.today()
    figures = run(memberships.report_figures(None, today, today))
    assert (figures.memberships_waived, figures.membership_fees_cents) == (1, 0)


def test_a_device_sold_to_a_member_above_the_public_cap_is_warned_not_refused(
    money: None,
) -> None:
    setup = run(loan_setup())
    programme = run(membership_programme())
    code = setup["borrower"]["code"]
    (public,) = run(public_devices(1))
    (private,) = run(ready_devices(1))
    with pytest.raises(FieldInvalid):
        run(
            cession.cede(
                build(
                    cession.CessionIn,
                    {"tag": public, "kind": "sold", "borrower_code": code, "price_cents": -100},
                ),
                "m",
            )
        )
    with pytest.raises(FieldInvalid, match="à un prix"):
        run(cession.cede(cession.CessionIn(public, "sold", code), "m"))  # type: ignore[arg-type]
    with pytest.raises(FieldInvalid, match="Aucun adhérent"):
        run(cession.cede(cession.CessionIn(public, "given", "B-NOBODY"), "m"))  # type: ignore[arg-type]
    sale = cession.CessionIn(public, "sold", code, 200_00, programme["id"])  # type: ignore[arg-type]
    assert "plafond légal de 180,00 €" in run(cession.preview(sale))
    done = run(cession.cede(sale, "m"))
    assert done.state == "retired" and "180,00 €" in done.warning
    event = must(run(Event.select().where(Event.kind == "retire").first().output(load_json=True)))
    assert event["payload"]["over_public_cap"] is True
    assert (event["payload"]["price_cents"], event["payload"]["recipient_code"]) == (20000, code)
    # A company's device has no cap; a gift has no price.
    run(cession.cede(cession.CessionIn(private, "given", code.lower(), 0, programme["id"]), "m"))  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        run(cession.cede(cession.CessionIn(private, "given", code), "m"))  # type: ignore[arg-type]
    today = date.today()
    figures = run(memberships.report_figures(programme["id"], today, today))
    assert (figures.devices_sold, figures.sales_cents, figures.devices_given) == (1, 20000, 1)
    with pytest.raises(Invalid):
        cession.price_cents("-5")


@pytest.mark.breaks_invariants
def test_the_self_audit_sees_a_deposit_changed_without_its_event(db: None) -> None:
    from web.selfcheck import audit

    setup = run(loan_setup())
    programme = run(membership_programme())
    tags = run(ready_devices(1))
    loan = run(
        checkout.checkout(
            request(setup["borrower"]["id"], tags, programme["id"], **PAID), SIGNATURE, "m"
        )
    )
    run(Deposit.update({Deposit.status: "refunded"}).where(Deposit.loan == loan["id"]))
    run(Membership.update({Membership.status: "refunded"}).where(Membership.loan == loan["id"]))
    sentences = [v.sentence for v in run(audit())]
    clean()
    assert any(f"dépôt de garantie du prêt n° {loan['id']}" in s for s in sentences), sentences
    assert any("L'adhésion n°" in s for s in sentences), sentences


@pytest.fixture
def api(money: None, tokens: dict[str, str]) -> Iterator[Any]:
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(), base_url="http://testserver.local") as client:
        client.headers["Authorization"] = f"Bearer {tokens['mediator']}"
        client.headers["X-Coordinator"] = tokens["coordinator"]
        yield client


def test_the_api_refuses_what_is_due_settled_twice_or_priced_below_zero(api: Any) -> None:
    import base64

    coordinator = {"Authorization": f"Bearer {api.headers['X-Coordinator']}"}
    setup = run(loan_setup())
    made = api.post(
        "/api/v1/programmes",
        json={"name": "Adhérents", "deposit_cents": 5000, "membership_required": True,
              "membership_fee_cents": 3500, "membership_validity": "calendar_year",
              "imaging_profile": "ecole"},
        headers=coordinator,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["membership_fee_cents"] == 3500 and made.json()["imaging_profile"] == "ecole"
    bad = api.post(
        "/api/v1/programmes",
        json={"name": "Mauvais", "imaging_profile": "kiosque"},
        headers=coordinator,
    )
    assert bad.status_code in (400, 422) and "Profil d'installation inconnu" in bad.text
    tags = run(ready_devices(1))
    body = {
        "borrower_id": setup["borrower"]["id"],
        "tags": tags,
        "programme_id": made.json()["id"],
        "signature": {
            "method": "drawn",
            "image_base64": base64.b64encode(signature_png()).decode(),
            "signer_name": "Camille Durand",
            "signer_role": "self",
        },
    }
    refused = api.post("/api/v1/loans", json=body)
    assert refused.status_code in (400, 422), refused.text
    assert "L'adhésion de 35,00 € est due" in refused.text
    assert run(Loan.count()) == 0
    lent = api.post("/api/v1/loans", json={**body, **PAID})
    assert lent.status_code == 201, lent.text
    loan_id = lent.json()["id"]
    money = api.get(f"/api/v1/loans/{loan_id}/money").json()
    assert money["membership"]["status"] == "paid" and money["deposit"]["amount_cents"] == 5000
    back = api.post(
        "/api/v1/loans/returns",
        json={"tag": tags[0], "reason": "end", "deposit_outcome": "refunded"},
    )
    assert back.status_code == 200, back.text
    twice = api.post(f"/api/v1/loans/{loan_id}/deposit", json={"outcome": "refunded"})
    assert twice.status_code == 409 and "n'est plus encaissé" in twice.text
    assert api.get(f"/api/v1/loans/{loan_id}/money").json()["deposit"]["status"] == "refunded"
    membership_id = money["membership"]["id"]
    url = f"/api/v1/loans/memberships/{membership_id}/refund"
    assert api.post(url, json={"reason": ""}).status_code in (400, 422)
    refunded = api.post(url, json={"reason": "Déménagement", "method": "cash"})
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"
    assert api.post(url, json={"reason": "Encore"}).status_code == 409
    (public,) = run(public_devices(1))
    code = setup["borrower"]["code"]
    negative = api.post(
        "/api/v1/loans/cessions",
        json={"tag": public, "kind": "sold", "borrower_code": code, "price_cents": -1},
    )
    assert negative.status_code in (400, 422), negative.text
    sold = api.post(
        "/api/v1/loans/cessions",
        json={"tag": public, "kind": "sold", "borrower_code": code, "price_cents": 25000},
    )
    assert sold.status_code == 200, sold.text
    assert "plafond légal de 180,00 €" in sold.json()["warning"]
    assert sold.json()["state"] == "retired"
