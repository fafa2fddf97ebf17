"""One command per inventory operation: checked the same way from code, forms and JSON, and the
page and the API giving the same result; a transition reads only the facts it needs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from inventory import devices, intake, lifecycle
from inventory.batch import ScanIn
from inventory.commands import checked
from inventory.devices import DeviceEdit, TransitionIn
from inventory.errors import FieldInvalid
from inventory.history import PastEvent, storage_facts
from inventory.intake import DonationIn, DonorIn, SiteIn
from inventory.states import DeviceKind
from inventory.tables import Device, Event
from tests.browser import PASSWORD
from tests.support import new_donation, ready_devices, run
from web.accounts import create_user
from web.forms import form_to

pytestmark = pytest.mark.db


def test_commands_built_by_code_are_refused_with_a_french_sentence() -> None:
    cases: list[tuple[Any, str, str]] = [
        (TransitionIn(transition=""), "transition", "Transition : champ obligatoire."),
        (TransitionIn(transition="triage", reason="burnt"), "reason", "Motif"),  # type: ignore[arg-type]
        (DeviceEdit(version=0), "version", "Version : 1 au moins."),
        (DeviceEdit(version=1, brand="x" * 81), "brand", "Marque : 80 caractères au plus."),
        (ScanIn(code="RE-000001-X", action="explode"), "action", "Action"),  # type: ignore[arg-type]
        (SiteIn(name=""), "name", "Nom du site : champ obligatoire."),
        (DonorIn(name="ACME", kind="alien"), "kind", "Type de donateur"),  # type: ignore[arg-type]
        (DonationIn(received_on=date.today(), device_count=2001), "device_count", "2000 au plus"),
    ]
    for command, field, sentence in cases:
        with pytest.raises(FieldInvalid) as refusal:
            checked(command)
        assert refusal.value.field == field
        assert sentence in str(refusal.value)


def test_a_form_becomes_the_same_command_as_the_json() -> None:
    form = {"transition": "retire", "reason": "parts", "expected_version": "3", "_csrf_token": "x"}
    assert form_to(TransitionIn, form) == TransitionIn("retire", "parts", "", 3)  # type: ignore[arg-type]
    empty = {"received_on": "2026-11-02", "site_id": "", "device_count": "", "kind": ""}
    command = form_to(DonationIn, empty)
    assert command.site_id is None and command.device_count is None
    assert command.kind == DeviceKind.laptop


def test_facts_from_bounded_queries_match_the_whole_history(db: None) -> None:
    """`device_facts` reads the last custody change, the last loan move and the proofs since;
    it must agree with the rules applied to every event of the device."""
    tags = run(ready_devices(2))
    run(devices.apply_transition(tags[1], "repair_in_workshop", "t"))
    run(devices.apply_transition(tags[1], "rewipe", "t"))
    tags += run(new_donation(1))
    for tag in tags:
        device = run(devices.get_device(tag))
        history = run(devices.device_events(device["id"]))
        past = [
            PastEvent(e["kind"], e["to_state"], e["payload"] or {}, e["loan_id"]) for e in history
        ]
        disks = [d["id"] for d in run(devices.device_disks(device["id"]))]
        sanitized, imaged = storage_facts(past, disks)
        facts = run(devices.device_facts(device))
        assert (facts.disks_sanitized, facts.image_verified) == (sanitized, imaged), tag
        assert facts.open_loan == lifecycle.open_loan((e.kind, e.loan_id) for e in past)


def test_a_transition_answers_what_may_follow_without_a_second_read(db: None) -> None:
    (tag,) = run(ready_devices(1))
    out = run(devices.transition_device(tag, TransitionIn("repair_in_workshop"), "t"))
    assert out.state == "in_repair" and out.version == run(devices.get_device(tag))["version"]
    assert out.allowed_transitions == run(devices.generic_transitions(run(devices.get_device(tag))))
    again = run(devices.transition_device(tag, TransitionIn("rewipe"), "t"))
    assert again.allowed_transitions == run(
        devices.generic_transitions(run(devices.get_device(tag)))
    )
    assert run(Event.count().where(Event.kind == "rewipe")) == 1


def _log_in(client: Any, role: str) -> str:
    run(create_user(f"user-{role}", PASSWORD, role))
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": f"user-{role}", "password": PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf


def test_the_intake_page_and_the_api_register_the_same_lot(
    client: Any, tokens: dict[str, str]
) -> None:
    site = run(intake.create_site("Atelier"))
    csrf = _log_in(client, "technician")
    fields = {
        "received_on": date.today().isoformat(),
        "site_id": str(site["id"]),
        "new_donor_name": "Mairie",
        "new_donor_kind": "public_body",
        "device_count": "3",
        "kind": "Tour",
        "weee_reference": "DEEE-1",
    }
    page = client.post(
        "/intake",
        data={**fields, "_csrf_token": csrf},
        files={"spreadsheet": ("", b"")},
        follow_redirects=False,
    )
    assert page.status_code == 303, page.text
    token = {"Authorization": f"Bearer {tokens['technician']}"}
    body: dict[str, Any] = {**fields, "site_id": site["id"], "device_count": 3}
    api = client.post("/api/v1/donations", json=body, headers=token)
    assert api.status_code == 201, api.text
    lots = run(Device.select(Device.donation, Device.kind, Device.state).order_by(Device.id))
    by_lot: dict[int, list[tuple[str, str]]] = {}
    for row in lots:
        by_lot.setdefault(row["donation"], []).append((row["kind"], row["state"]))
    first, second = by_lot.values()
    assert first == second == [("desktop", "received")] * 3
    refused = client.post(
        "/intake",
        data={**fields, "device_count": "0", "_csrf_token": csrf},
        files={"spreadsheet": ("", b"")},
    )
    assert refused.status_code == 422 and "Nombre d&#39;appareils : 1 au moins." in refused.text
    refused_api = client.post("/api/v1/donations", json={**body, "device_count": 0}, headers=token)
    assert refused_api.status_code in (400, 422)
