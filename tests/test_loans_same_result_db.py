"""The page and the API run one command each: the same return, or the same refusal, gives the
same result whichever way it comes in (loans.returns.ReturnIn, loans.checkout.CheckoutIn)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from inventory.commands import checked
from inventory.errors import FieldInvalid
from inventory.tables import Device, Event
from loans import checkout, repairs, returns
from loans.tables import DeviceReturn, RepairTicket
from tests.support import run
from tests.test_loans_api_db import api as api  # the fixture
from tests.test_loans_api_db import setup, signature

pytestmark = pytest.mark.db


def _lend(api: Any, borrower_id: int, count: int) -> list[str]:
    from tests.support import ready_devices

    tags = run(ready_devices(count))
    made = api.post(
        "/api/v1/loans", json={"borrower_id": borrower_id, "tags": tags, "signature": signature()}
    )
    assert made.status_code == 201, made.text
    return tags


def _trace(tag: str) -> dict[str, Any]:
    """What a return leaves behind, without ids and instants."""
    device = run(Device.select().where(Device.asset_tag == tag).first())
    back = run(DeviceReturn.select().where(DeviceReturn.device == device["id"]).first())
    ticket = run(RepairTicket.select().where(RepairTicket.device == device["id"]).first())
    events = run(
        Event.select(Event.kind, Event.from_state, Event.to_state, Event.payload)
        .where((Event.device == device["id"]) & (Event.kind != "checkout"))
        .order_by(Event.id)
        .output(load_json=True)
    )
    keep = ("reason", "charger", "bag", "damage", "damage_notes", "police_report")
    return {
        "state": device["state"],
        "return": {k: back[k] for k in keep} if back else None,
        "ticket": (ticket["fault"], ticket["closed_at"] is None) if ticket else None,
        "events": [
            (e["kind"], e["from_state"], e["to_state"])
            for e in events
            if e["kind"] not in ("register", "intake")
        ],
        "check_in": [e["payload"] for e in events if e["kind"] == "check_in"],
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"reason": "end", "charger": True, "bag": True},
        {"reason": "repair", "damage": True, "damage_notes": "Écran fissuré"},
        {"reason": "stolen", "police_report": "PV 2026/12"},
    ],
    ids=["end", "repair", "stolen"],
)
def test_the_page_and_the_api_record_the_same_return(api: Any, fields: dict[str, Any]) -> None:
    ids = setup(api)
    by_api, by_page = _lend(api, ids["borrower"]["id"], 2)
    answer = api.post("/api/v1/loans/returns", json={"tag": by_api, **fields})
    assert answer.status_code == 200, answer.text
    form = {k: ("on" if v is True else v) for k, v in fields.items()}
    assert api.get("/returns").status_code == 200  # the form, and its CSRF cookie
    csrf = {"x-csrftoken": api.cookies.get("reemploi_csrf", "")}
    page = api.post(
        "/returns", files={k: (None, v) for k, v in {"tag": by_page, **form}.items()}, headers=csrf
    )
    assert page.status_code == 200 and "Retour enregistré" in page.text, page.text
    assert _trace(by_page) == _trace(by_api)
    assert _trace(by_api)["return"]["reason"] == fields["reason"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"reason": "stolen"}, "dépôt de plainte"),
        ({"reason": "end", "swap_tag": "RE-000009-X"}, "avec une réparation"),
        ({"reason": "broken"}, "Motif"),
    ],
    ids=["theft-without-report", "swap-outside-repair", "unknown-reason"],
)
def test_the_page_and_the_api_refuse_the_same_return(
    api: Any, fields: dict[str, Any], words: str
) -> None:
    ids = setup(api)
    (tag,) = _lend(api, ids["borrower"]["id"], 1)
    answer = api.post("/api/v1/loans/returns", json={"tag": tag, **fields})
    assert api.get("/returns").status_code == 200  # the form, and its CSRF cookie
    csrf = {"x-csrftoken": api.cookies.get("reemploi_csrf", "")}
    page = api.post(
        "/returns", files={k: (None, v) for k, v in {"tag": tag, **fields}.items()}, headers=csrf
    )
    assert page.status_code == 422, page.text
    if answer.status_code == 422:  # a refusal of the domain: the very same sentence
        assert words in answer.json()["detail"] and words in page.text
    else:  # a value outside the vocabulary: refused while the JSON body is decoded
        assert answer.status_code == 400 and words in page.text
    assert run(Device.select(Device.state).where(Device.asset_tag == tag).first())["state"] == (
        "loaned"
    )


def test_commands_built_by_code_are_checked() -> None:
    with pytest.raises(FieldInvalid) as refused:
        checked(returns.ReturnIn("lost", damage_notes="x" * 2001))
    assert refused.value.field == "damage_notes" and "2000" in str(refused.value)
    with pytest.raises(FieldInvalid) as refused:
        checked(repairs.RepairCloseIn("melted", "rien"))  # type: ignore[arg-type]
    assert refused.value.field == "outcome"
    with pytest.raises(FieldInvalid):
        checked(checkout.CheckoutIn(1, ["RE-000001-X"] * 61))
    link = msgspec.json.decode(
        b'{"borrower_id": 3, "tags": ["A"], "hours": 5}', type=checkout.LinkIn
    )
    assert isinstance(link, checkout.CheckoutIn) and link.hours == 5
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"borrower_id": 3, "tags": ["A"], "hours": 999}', type=checkout.LinkIn
        )


def test_a_minor_without_a_guardian_is_refused_by_the_api_as_by_the_form(api: Any) -> None:
    body = {"full_name": "Léo Martin", "is_minor": True}
    refused = api.post("/api/v1/borrowers", json=body)
    assert refused.status_code == 422 and "Représentant légal" in refused.json()["detail"]
    made = api.post("/api/v1/borrowers", json={**body, "guardian_name": "Dominique Martin"})
    assert made.status_code == 201, made.text
