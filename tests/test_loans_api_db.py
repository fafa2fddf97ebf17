"""The loans API: checkout with a signature, refusals, one winner, returns, sessions, erasure."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from inventory.tables import Device, Event
from loans.tables import Loan, MediationSession
from tests.support import CHARTER_TEXT, new_donation, ready_devices, run, signature_png

pytestmark = pytest.mark.db


@pytest.fixture
def api(db: None, tokens: dict[str, str]) -> Iterator[Any]:
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(), base_url="http://testserver.local") as client:
        client.headers["Authorization"] = f"Bearer {tokens['mediator']}"
        client.tokens = tokens
        yield client


def as_role(api: Any, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[role]}"}


def setup(api: Any, minor: bool = False) -> dict[str, Any]:
    manager = as_role(api, "coordinator")
    charter = api.post(
        "/api/v1/charters",
        json={"title": "Charte", "text": CHARTER_TEXT, "in_force_from": date.today().isoformat()},
        headers=manager,
    )
    assert charter.status_code == 201, charter.text
    programme = api.post(
        "/api/v1/programmes",
        json={"name": "Familles connectées", "funder": "CAF", "default_loan_days": 365},
        headers=manager,
    )
    assert programme.status_code == 201, programme.text
    borrower = api.post(
        "/api/v1/borrowers",
        json={
            "full_name": "Alex Bernard",
            "commune": "Vénissieux",
            "insee_code": "69259",
            "qpv_resident": True,
            "children_count": 3,
            "is_minor": minor,
            "guardian_name": "Dominique Bernard" if minor else "",
        },
    )
    assert borrower.status_code == 201, borrower.text
    assert "full_name" not in borrower.json()
    return {"programme": programme.json(), "borrower": borrower.json()}


def signature(name: str = "Alex Bernard", role: str = "self") -> dict[str, str]:
    return {
        "method": "drawn",
        "image_base64": base64.b64encode(signature_png()).decode(),
        "signer_name": name,
        "signer_role": role,
    }


def test_checkout_then_the_pdf_matches_the_event(api: Any) -> None:
    ids = setup(api)
    (tag,) = run(ready_devices(1))
    response = api.post(
        "/api/v1/loans",
        json={
            "borrower_id": ids["borrower"]["id"],
            "programme_id": ids["programme"]["id"],
            "tags": [tag],
            "accessories": ["chargeur"],
            "signature": signature(),
        },
    )
    assert response.status_code == 201, response.text
    loan = response.json()
    assert loan["due_on"] == (date.today() + timedelta(days=365)).isoformat()
    pdf = api.get(f"/api/v1/loans/{loan['id']}/charter.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    events = api.get(f"/api/v1/loans/{loan['id']}/events").json()
    opened = next(e for e in events if e["kind"] == "loan_opened")
    assert opened["payload"]["document_sha256"] == hashlib.sha256(pdf.content).hexdigest()
    # The same device again: 409 with a sentence; nothing changed.
    again = api.post(
        "/api/v1/loans",
        json={"borrower_id": ids["borrower"]["id"], "tags": [tag], "signature": signature()},
    )
    assert again.status_code == 409 and "n'est pas prêt" in again.json()["detail"]
    assert run(Loan.count()) == 1


def test_refusals_are_clear_and_change_nothing(api: Any) -> None:
    ids = setup(api, minor=True)
    (tag,) = run(ready_devices(1))
    (received,) = run(new_donation(1))
    before = (
        run(Loan.count()),
        run(Event.count()),
        run(Device.count().where(Device.state == "ready")),
    )
    borrower = ids["borrower"]["id"]
    cases = [
        ({"borrower_id": borrower, "tags": [tag]}, 422, "pas signée"),
        ({"borrower_id": borrower, "tags": [tag], "signature": signature()}, 422, "représentant"),
        (
            {
                "borrower_id": borrower,
                "tags": [received],
                "signature": signature("Parent", "legal_guardian"),
            },
            409,
            "n'est pas prêt",
        ),
        (
            {
                "borrower_id": borrower,
                "tags": [tag],
                "signature": {**signature("Parent", "legal_guardian"), "image_base64": "***"},
            },
            400,  # not base64: the body itself is malformed, refused while it is decoded
            "base64",
        ),
    ]
    for body, status, words in cases:
        response = api.post("/api/v1/loans", json=body)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    after = (
        run(Loan.count()),
        run(Event.count()),
        run(Device.count().where(Device.state == "ready")),
    )
    assert after == before
    technician = api.post(
        "/api/v1/loans",
        json={"borrower_id": borrower, "tags": [tag], "signature": signature()},
        headers=as_role(api, "technician"),
    )
    assert technician.status_code == 403


def test_returns_repairs_and_sessions_over_the_api(api: Any) -> None:
    ids = setup(api)
    first, second, spare = run(ready_devices(3))
    loan = api.post(
        "/api/v1/loans",
        json={
            "borrower_id": ids["borrower"]["id"],
            "programme_id": ids["programme"]["id"],
            "tags": [first, second],
            "signature": signature(),
        },
    ).json()
    repair = api.post(
        "/api/v1/loans/returns",
        json={"tag": first, "reason": "repair", "damage": True, "damage_notes": "clavier"},
    )
    assert repair.status_code == 200, repair.text
    tickets = api.get("/api/v1/repairs", headers=as_role(api, "technician")).json()
    closed = api.post(
        f"/api/v1/repairs/{tickets[0]['id']}/close",
        json={"outcome": "repaired", "actions": "clavier remplacé", "parts": "clavier FR"},
        headers=as_role(api, "technician"),
    )
    assert closed.status_code == 200, closed.text
    states = {
        d["asset_tag"]: d["state"] for d in api.get(f"/api/v1/loans/{loan['id']}").json()["devices"]
    }
    assert states == {first: "loaned", second: "loaned"}
    swap = api.post(
        "/api/v1/loans/returns", json={"tag": second, "reason": "repair", "swap_tag": spare}
    )
    assert swap.status_code == 200, swap.text
    theft = api.post("/api/v1/loans/returns", json={"tag": first, "reason": "stolen"})
    assert theft.status_code == 422 and "plainte" in theft.json()["detail"]
    agenda = api.get("/api/v1/sessions", params={"days": 7}).json()
    assert [s["label"] for s in agenda] == ["prise en main"]  # usages: in 30 days
    recorded = api.post(
        f"/api/v1/sessions/{agenda[0]['id']}/record",
        json={
            "status": "done",
            "held_on": date.today().isoformat(),
            "place_type": "a_distance",
            "duration_minutes": 30,
            "themes": ["diagnostic_numerique"],
            "autonomy": "entierement_accompagne",
        },
    )
    assert recorded.status_code == 200, recorded.text
    assert run(MediationSession.count().where(MediationSession.status == "done")) == 1
    reminders = api.get("/api/v1/reminders")
    assert reminders.status_code == 200


def test_export_and_erasure_over_the_api(api: Any) -> None:
    ids = setup(api)
    borrower = ids["borrower"]["id"]
    export = api.get(f"/api/v1/borrowers/{borrower}/export")
    assert export.json()["contact"]["full_name"] == "Alex Bernard"
    assert api.post(f"/api/v1/borrowers/{borrower}/erase").status_code == 403
    erased = api.post(f"/api/v1/borrowers/{borrower}/erase", headers=as_role(api, "coordinator"))
    assert erased.status_code == 200 and erased.json()["anonymised_at"]
    assert api.get(f"/api/v1/borrowers/{borrower}").json()["contact"] is None


def test_the_checkout_page_renders(api: Any) -> None:
    setup(api)
    page = api.get("/loans/new")
    assert page.status_code == 200
    assert "signature-pad" in page.text and "reconditionné" in page.text
    assert "Alex Bernard" in page.text


def test_a_one_time_signing_link_for_a_class_set(api: Any) -> None:
    setup(api)
    school = api.post(
        "/api/v1/organisations", json={"name": "Collège Victor Hugo", "kind": "college"}
    ).json()
    borrower = api.post(
        "/api/v1/borrowers", json={"kind": "organisation", "organisation_id": school["id"]}
    ).json()
    tags = run(ready_devices(3))
    link = api.post("/api/v1/loans/links", json={"borrower_id": borrower["id"], "tags": tags})
    assert link.status_code == 201, link.text
    path = "/sign/" + link.json()["url"].rsplit("/sign/", 1)[1]
    del api.headers["Authorization"]  # the head of the school has no account
    page = api.get(path)
    assert page.status_code == 200 and tags[0] in page.text
    form = {
        "signer_name": "M. le principal",
        "signer_role": "school_representative",
        "signature_data": "data:image/png;base64," + base64.b64encode(signature_png()).decode(),
    }
    csrf = {"x-csrftoken": api.cookies.get("reemploi_csrf", "")}
    signed = api.post(path, data=form, headers=csrf)
    assert signed.status_code == 200, signed.text
    assert run(Device.count().where(Device.state == "loaned")) == 3
    again = api.post(path, data=form, headers=csrf)
    assert again.status_code == 422 and "déjà servi" in again.text
    assert api.get(path).status_code == 410
    assert run(Loan.count()) == 1


def test_agenda_and_session_pages(api: Any) -> None:
    ids = setup(api)
    (tag,) = run(ready_devices(1))
    loan = api.post(
        "/api/v1/loans",
        json={"borrower_id": ids["borrower"]["id"], "tags": [tag], "signature": signature()},
    ).json()
    first = run(MediationSession.select().where(MediationSession.loan == loan["id"]).first())
    run(
        MediationSession.update(
            {MediationSession.planned_on: date.today() - timedelta(days=2)}
        ).where(MediationSession.id == first["id"])
    )
    agenda = api.get("/agenda", params={"mediator": ""})
    assert agenda.status_code == 200 and "en retard" in agenda.text
    page = api.get(f"/sessions/{first['id']}")
    assert "Aide aux démarches administratives" in page.text
    csrf = {"x-csrftoken": api.cookies.get("reemploi_csrf", "")}
    form = {
        "status": "done",
        "held_on": date.today().isoformat(),
        "place_type": "lieu_activite",
        "duration_minutes": "90",
        "themes": ["email", "bureautique"],  # in the form's order
        "autonomy": "autonome",
    }
    saved = api.post(
        f"/sessions/{first['id']}",
        data=form,
        headers=csrf,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    row = run(
        MediationSession.select()
        .where(MediationSession.id == first["id"])
        .first()
        .output(load_json=True)
    )
    assert row["status"] == "done" and row["themes"] == ["email", "bureautique"]
    assert row["duration_minutes"] == 90


def test_the_check_in_page(api: Any) -> None:
    ids = setup(api)
    (tag,) = run(ready_devices(1))
    api.post(
        "/api/v1/loans",
        json={"borrower_id": ids["borrower"]["id"], "tags": [tag], "signature": signature()},
    )
    assert "Chargeur rendu" in api.get("/returns").text
    csrf = {"x-csrftoken": api.cookies.get("reemploi_csrf", "")}
    form = {"tag": tag, "reason": "end", "charger": "on", "bag": "on"}
    done = api.post("/returns", files={k: (None, v) for k, v in form.items()}, headers=csrf)
    assert done.status_code == 200 and "Retour enregistré" in done.text
    assert run(Device.select(Device.state).first())["state"] == "to_wipe"
    again = api.post("/returns", files={k: (None, v) for k, v in form.items()}, headers=csrf)
    assert again.status_code == 422 and "aucun prêt" in again.text
