"""Returns and repairs move devices as DESIGN section 2 says, each step with its event."""

from __future__ import annotations

import pytest

from inventory import devices
from inventory.errors import Conflict, Invalid
from inventory.lifecycle import replay
from inventory.tables import Event
from loans import checkout, repairs, returns
from loans.tables import DeviceReturn, Loan, RepairTicket
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db


def lend(tags: list[str]) -> dict:
    setup = run(loan_setup())
    return run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], tags),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )


def kinds(tag: str) -> list[str]:
    device = run(devices.get_device(tag))
    return [e["kind"] for e in run(devices.device_events(device["id"]))]


def state(tag: str) -> str:
    device = run(devices.get_device(tag))
    events = run(devices.device_events(device["id"]))
    # The stored state always equals what replaying the events gives.
    assert replay(e["to_state"] for e in events) == device["state"]
    return device["state"]


def test_end_of_loan_sends_the_device_to_wipe_and_closes_the_loan(db: None) -> None:
    tags = run(ready_devices(2))
    loan = lend(tags)
    done = run(returns.check_in(tags[0], returns.ReturnIn("end", charger=True, bag=True), "m"))
    assert done["status"] == "open" and state(tags[0]) == "to_wipe"
    done = run(returns.check_in(tags[1], returns.ReturnIn("end"), "m"))
    assert done["status"] == "closed" and state(tags[1]) == "to_wipe"
    assert kinds(tags[0])[-2:] == ["return_end", "check_in"]
    loan_kinds = [e["kind"] for e in run(Event.select().where(Event.loan_id == loan["id"]))]
    assert loan_kinds.count("check_in") == 2 and loan_kinds[-1] == "loan_closed"
    returned = run(DeviceReturn.select().where(DeviceReturn.device.is_not_null()))
    assert [r["charger"] for r in returned] == [True, False]
    with pytest.raises(Conflict, match="aucun prêt"):
        run(returns.check_in(tags[0], returns.ReturnIn("end"), "m"))


def test_a_repair_goes_back_to_the_same_borrower_without_a_wipe(db: None) -> None:
    (tag,) = run(ready_devices(1))
    loan = lend([tag])
    run(returns.check_in(tag, returns.ReturnIn("repair", damage=True, damage_notes="écran"), "m"))
    assert state(tag) == "in_repair"
    assert run(Loan.select(Loan.status).where(Loan.id == loan["id"]))[0]["status"] == "open"
    ticket = run(RepairTicket.select().first())
    assert ticket["fault"] == "écran" and ticket["loan"] == loan["id"]
    with pytest.raises(Conflict):
        run(returns.check_in(tag, returns.ReturnIn("end"), "m"))
    run(repairs.close_ticket(ticket["id"], outcome="repaired", actions="dalle", actor="tech"))
    assert state(tag) == "loaned"
    history = kinds(tag)
    assert history[-3:] == ["repair_during_loan", "check_in", "repaired_to_borrower"]
    assert "wipe_passed" not in history[history.index("checkout") :]
    with pytest.raises(Conflict, match="déjà clos"):
        run(repairs.close_ticket(ticket["id"], outcome="repaired", actions="x", actor="tech"))


def test_a_swap_puts_a_ready_device_on_the_same_loan(db: None) -> None:
    old, new = run(ready_devices(2))
    loan = lend([old])
    run(returns.check_in(old, returns.ReturnIn("repair", swap_tag=new), "m"))
    assert state(old) == "to_wipe" and state(new) == "loaned"
    detail = run(checkout.get_loan(loan["id"]))
    assert [(d["asset_tag"], d["outcome"]) for d in detail["devices"]] == [
        (old, "swapped"),
        (new, ""),
    ]
    assert kinds(old)[-3:] == ["repair_during_loan", "swap_out", "check_in"]
    assert run(RepairTicket.select().first())["swap_device"] is not None
    # The swap closed nothing: the loan goes on with the new device.
    run(returns.check_in(new, returns.ReturnIn("end"), "m"))
    assert run(checkout.get_loan(loan["id"]))["status"] == "closed"


def test_a_swap_from_a_repair_ticket(db: None) -> None:
    old, new = run(ready_devices(2))
    lend([old])
    run(returns.check_in(old, returns.ReturnIn("repair"), "m"))
    ticket = run(RepairTicket.select().first())
    run(
        repairs.close_ticket(
            ticket["id"], outcome="swapped", actions="carte mère HS", actor="t", swap_tag=new
        )
    )
    assert state(old) == "to_wipe" and state(new) == "loaned"


def test_loss_and_theft_retire_the_device(db: None) -> None:
    lost, stolen = run(ready_devices(2))
    loan = lend([lost, stolen])
    with pytest.raises(Invalid, match="plainte"):
        run(returns.check_in(stolen, returns.ReturnIn("stolen"), "m"))
    run(returns.check_in(lost, returns.ReturnIn("lost"), "m"))
    run(returns.check_in(stolen, returns.ReturnIn("stolen", police_report="PV 2026/123"), "m"))
    assert state(lost) == state(stolen) == "retired"
    events = run(devices.device_events(run(devices.get_device(stolen))["id"]))
    retired = [e for e in events if e["kind"] == "declare_lost"][0]
    assert retired["payload"]["reason"] == "stolen"
    assert retired["payload"]["note"] == "Plainte déposée"
    # The police reference is personal data: kept on the return only, never in the trail.
    assert "PV 2026/123" not in str([e["payload"] for e in events])
    assert run(DeviceReturn.select().where(DeviceReturn.police_report == "PV 2026/123"))
    assert run(checkout.get_loan(loan["id"]))["status"] == "closed"
