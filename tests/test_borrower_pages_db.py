"""Borrowers' and organisations' pages in-process: answers, refusals, the edit's event."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.tables import Event
from loans import borrowers, checkout
from loans.tables import Borrower, BorrowerContact
from tests.browser import PASSWORD
from tests.support import loan_setup, ready_devices, run, signature_png
from web.accounts import create_user

pytestmark = pytest.mark.db


def _auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _log_in(client: Any, role: str) -> str:
    """A person's session, as a browser opens it; returns the CSRF token for forms."""
    run(create_user(f"page-{role}", PASSWORD, role))
    client.cookies.clear()
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": f"page-{role}", "password": PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return client.cookies.get("reemploi_csrf")


def test_the_pages_answer_and_suggest_communes(client: Any, tokens: dict[str, str]) -> None:
    setup = run(loan_setup())
    school = run(borrowers.create_organisation("École Jules Ferry", "school", "Lyon", "69123"))
    staff = _auth(tokens, "mediator")
    borrower_id = setup["borrower"]["id"]
    for path in (
        "/borrowers",
        "/borrowers?q=camille",
        "/borrowers/new",
        f"/borrowers/{borrower_id}",
        f"/borrowers/{borrower_id}/edit",
        "/organisations",
        "/organisations/new",
        f"/organisations/{school['id']}/edit",
        f"/loans/new?organisation_id={school['id']}",
    ):
        answer = client.get(path, headers=staff)
        assert answer.status_code == 200, path
        assert "Traceback" not in answer.text, path
    found = client.get("/borrowers?q=durand", headers=staff).text
    assert setup["borrower"]["code"] in found
    suggestions = client.get("/organisations/communes?q=st%20eti", headers=staff).json()
    assert suggestions[0]["insee"] == "42218" and suggestions[0]["label"] == "Saint-Étienne (42)"
    assert client.get("/organisations/communes?q=s", headers=staff).json() == []
    exported = client.get(f"/borrowers/{borrower_id}/export.json", headers=staff)
    assert exported.json()["borrower"]["code"] == setup["borrower"]["code"]
    pdf = client.get(f"/borrowers/{borrower_id}/export.pdf", headers=staff)
    assert pdf.content[:5] == b"%PDF-"
    for role in ("technician", "partner", "funder"):
        assert client.get("/borrowers", headers=_auth(tokens, role)).status_code == 403


def test_only_managers_erase_and_never_with_an_open_loan(
    client: Any, tokens: dict[str, str]
) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    borrower_id = setup["borrower"]["id"]
    run(
        checkout.checkout(
            checkout.CheckoutIn(borrower_id=borrower_id, tags=[tag]),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "test",
        )
    )
    path = f"/borrowers/{borrower_id}/erase"
    csrf = _log_in(client, "mediator")
    refused = client.post(path, data={"confirm": "on", "_csrf_token": csrf})
    assert refused.status_code == 403
    csrf = _log_in(client, "coordinator")
    open_loan = client.post(path, data={"confirm": "on", "_csrf_token": csrf})
    assert open_loan.status_code == 409
    assert 'id="error"' in open_loan.text
    assert run(borrowers.get_contact(borrower_id)) is not None


def test_an_edit_is_written_as_an_event_without_the_values(
    client: Any, tokens: dict[str, str]
) -> None:
    setup = run(loan_setup())
    borrower_id = setup["borrower"]["id"]
    csrf = _log_in(client, "mediator")
    answer = client.post(
        f"/borrowers/{borrower_id}/edit",
        data={
            "full_name": "Camille Durand",
            "phone": "06 99 88 77 66",
            "commune": "Saint-Denis",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 422 and "plusieurs communes" in answer.text
    assert 'value="06 99 88 77 66"' in answer.text
    answer = client.post(
        f"/borrowers/{borrower_id}/edit",
        data={
            "full_name": "Camille Durand",
            "phone": "06 99 88 77 66",
            "commune": "Saint-Denis",
            "commune_insee": "93066",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    contact = run(BorrowerContact.select().where(BorrowerContact.borrower == borrower_id).first())
    assert contact["phone"] == "06 99 88 77 66"
    assert run(borrowers.get_borrower(borrower_id))["insee_code"] == "93066"
    event = run(
        Event.select().where(Event.kind == "borrower_updated").first().output(load_json=True)
    )
    assert event["payload"]["borrower"] == setup["borrower"]["code"]
    assert "phone" in event["payload"]["fields"] and "insee_code" in event["payload"]["fields"]
    assert "06 99" not in str(event["payload"])


def test_a_new_household_and_an_organisation_edit_through_their_forms(client: Any) -> None:
    csrf = _log_in(client, "mediator")
    refused = client.post(
        "/borrowers/new",
        data={"phone": "06 11 11 11 11", "commune": "st etienne", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "Nom et prénom" in refused.text
    assert 'value="06 11 11 11 11"' in refused.text and 'value="st etienne"' in refused.text
    assert run(Borrower.count()) == 0
    made = client.post(
        "/borrowers/new",
        data={
            "full_name": "Noé Petit",
            "phone": "06 11 11 11 11",
            "commune": "st etienne",
            "children_count": "2",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    row = run(Borrower.select().first())
    assert (row["commune"], row["insee_code"], row["children_count"]) == (
        "Saint-Étienne",
        "42218",
        2,
    )

    school = run(borrowers.create_organisation("Collège Victor Hugo", "college"))
    edited = client.post(
        f"/organisations/{school['id']}/edit",
        data={
            "name": "Collège Victor-Hugo",
            "kind": "college",
            "commune": "Ajaccio",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    row = run(borrowers.get_organisation(school["id"]))
    assert (row["name"], row["insee_code"]) == ("Collège Victor-Hugo", "2A004")
    event = run(
        Event.select().where(Event.kind == "organisation_updated").first().output(load_json=True)
    )
    assert sorted(event["payload"]["fields"]) == ["commune", "insee_code", "name"]
    blank = client.post(
        f"/organisations/{school['id']}/edit",
        data={"name": "", "kind": "college", "commune": "Ajaccio (2A)", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert blank.status_code == 422 and "Nom : champ obligatoire" in blank.text
    assert 'value="Ajaccio (2A)"' in blank.text
