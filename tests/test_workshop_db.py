"""Workshop services: repairs outside a loan, the queue, device edits, retirement, intake words."""

from __future__ import annotations

from datetime import date

import pytest

from inventory import devices, intake
from inventory.errors import Conflict, Invalid
from inventory.kinds import parse_kind
from inventory.lifecycle import replay
from inventory.spreadsheet import read_devices
from inventory.tables import Event
from loans import checkout, repairs, returns, workshop
from loans.tables import RepairTicket
from tests.support import loan_setup, new_donation, ready_devices, run, signature_png

pytestmark = pytest.mark.db


def state(tag: str) -> str:
    device = run(devices.get_device(tag))
    events = run(devices.device_events(device["id"]))
    assert replay(e["to_state"] for e in events) == device["state"]
    return device["state"]


def last_event(tag: str) -> dict:
    device = run(devices.get_device(tag))
    return run(devices.device_events(device["id"]))[-1]


def lend(tags: list[str]) -> tuple[dict, dict]:
    setup = run(loan_setup())
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], tags),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )
    return loan, setup["borrower"]


def test_a_workshop_repair_outside_a_loan_opens_and_closes(db: None) -> None:
    (tag,) = run(ready_devices(1))
    ticket = run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "Écran noir"), "t"))
    assert state(tag) == "in_repair" and last_event(tag)["kind"] == "repair_in_workshop"
    queue = run(workshop.open_tickets())
    assert [(t["asset_tag"], t["borrower_code"], t["fault"]) for t in queue] == [
        (tag, None, "Écran noir")
    ]
    with pytest.raises(Conflict, match="déjà un ticket"):
        run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "encore"), "t"))
    run(repairs.close_ticket(ticket, outcome="repaired", actions="Nappe changée", actor="t"))
    assert state(tag) == "ready" and run(workshop.open_tickets()) == []


def test_a_workshop_repair_needs_a_fault_and_a_ready_device(db: None) -> None:
    (tag,) = run(new_donation(1))
    with pytest.raises(Invalid, match="panne"):
        run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "  "), "t"))
    with pytest.raises(Conflict, match="Mettre en réparation"):
        run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "Clavier"), "t"))
    assert state(tag) == "received" and run(RepairTicket.count()) == 0


def test_a_device_put_in_repair_from_the_scan_page_gets_its_ticket(db: None) -> None:
    (tag,) = run(ready_devices(1))
    run(devices.apply_transition(tag, "repair_in_workshop", "t"))
    assert [d["asset_tag"] for d in run(workshop.in_repair_without_ticket())] == [tag]
    run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "Charnière"), "t"))
    assert run(workshop.in_repair_without_ticket()) == []
    assert state(tag) == "in_repair"


def test_not_repairable_in_the_workshop_retires_the_device(db: None) -> None:
    (tag,) = run(ready_devices(1))
    ticket = run(workshop.open_workshop_repair(workshop.WorkshopRepairIn(tag, "Carte mère"), "t"))
    run(
        repairs.close_ticket(
            ticket,
            outcome="not_repairable",
            actions="Diagnostic",
            actor="t",
            retire_reason="recycled_weee",
        )
    )
    assert state(tag) == "retired"
    assert last_event(tag)["payload"]["reason"] == "recycled_weee"
    assert run(repairs.get_ticket(ticket))["outcome"] == "not_repairable"


def test_the_queue_shows_the_borrower_of_a_loan_repair_and_closing_returns_it(db: None) -> None:
    (tag,) = run(ready_devices(1))
    loan, borrower = lend([tag])
    run(returns.check_in(tag, returns.ReturnIn("repair", damage_notes="Touche K"), "m"))
    (row,) = run(workshop.open_tickets())
    assert row["borrower_code"] == borrower["code"] and row["loan"] == loan["id"]
    run(repairs.close_ticket(row["id"], outcome="repaired", actions="Clavier", actor="t"))
    assert state(tag) == "loaned"
    run(returns.check_in(tag, returns.ReturnIn("repair", damage_notes="Écran"), "m"))
    (row,) = run(workshop.open_tickets())
    with pytest.raises(Invalid, match="remplacement"):
        run(repairs.close_ticket(row["id"], outcome="not_repairable", actions="x", actor="t"))
    (spare,) = run(ready_devices(1))
    run(
        repairs.close_ticket(
            row["id"], outcome="not_repairable", actions="x", actor="t", swap_tag=spare
        )
    )
    assert state(tag) == "to_wipe" and state(spare) == "loaned"


def test_an_edit_writes_before_and_after_and_refuses_a_stale_version(db: None) -> None:
    (tag,) = run(new_donation(1))
    device = run(devices.get_device(tag))
    edit = devices.DeviceEdit(
        version=device["version"],
        brand="Dell",
        model="Latitude 5490",
        serial="ABC123",
        kind="PC portable",
        grade="B",
    )
    edited = run(devices.edit_device(tag, edit, "t"))
    assert (edited["brand"], edited["grade"], edited["version"]) == ("Dell", "B", 2)
    event = last_event(tag)
    assert event["kind"] == "device_edited"
    assert event["payload"]["before"]["brand"] == "Lenovo"
    assert event["payload"]["after"]["brand"] == "Dell" and "kind" not in event["payload"]["after"]
    with pytest.raises(Conflict, match="rechargez"):
        run(devices.edit_device(tag, edit, "t"))
    with pytest.raises(Invalid, match="Grade"):
        run(devices.edit_device(tag, devices.DeviceEdit(version=2, grade="Z"), "t"))
    assert run(Event.count().where(Event.kind == "device_edited")) == 1


def test_a_screen_cannot_become_a_laptop_without_a_wipe(db: None) -> None:
    (tag,) = run(new_donation(1, kind="screen"))
    run(devices.apply_transition(tag, "qualify_without_storage", "t"))
    device = run(devices.get_device(tag))
    with pytest.raises(Conflict, match="effacement"):
        run(devices.edit_device(tag, devices.DeviceEdit(version=device["version"]), "t"))
    assert run(devices.get_device(tag))["kind"] == "screen"


def test_a_gift_carries_its_recipient_and_price_in_cents(db: None) -> None:
    (tag,) = run(ready_devices(1))
    borrower = run(loan_setup())["borrower"]
    device = run(devices.get_device(tag))
    gift = workshop.RetireIn(
        "given", device["version"], borrower["code"].lower(), workshop.parse_euros("35,50 €")
    )
    run(workshop.retire_device(tag, gift, "t"))
    assert state(tag) == "retired"
    payload = last_event(tag)["payload"]
    assert payload["reason"] == "given" and payload["recipient_code"] == borrower["code"]
    assert payload["price_cents"] == 3550


def test_retirement_refusals_name_the_field(db: None) -> None:
    (tag,) = run(new_donation(1))
    with pytest.raises(Invalid, match="^Destinataire"):
        run(workshop.retire_device(tag, workshop.RetireIn("given"), "t"))
    with pytest.raises(Invalid, match="^Destinataire : aucun"):
        run(workshop.retire_device(tag, workshop.RetireIn("given", None, "B-ZZZZZZ"), "t"))
    with pytest.raises(Invalid, match="^Prix"):
        run(workshop.retire_device(tag, workshop.RetireIn("sold", None, "B-ZZZZZZ"), "t"))
    with pytest.raises(Invalid, match="^Prix"):
        workshop.parse_euros("trente")
    with pytest.raises(Invalid, match="^Motif"):
        run(workshop.retire_device(tag, workshop.RetireIn("stolen"), "t"))
    borrower = run(loan_setup())["borrower"]
    # The lifecycle's rule: a device given with storage must be wiped first.
    with pytest.raises(Conflict, match="effacé"):
        run(
            workshop.retire_device(tag, workshop.RetireIn("sold", None, borrower["code"], 100), "t")
        )
    assert state(tag) == "received"
    run(workshop.retire_device(tag, workshop.RetireIn("parts"), "t"))
    assert state(tag) == "retired" and last_event(tag)["payload"]["reason"] == "parts"


def test_a_stale_retirement_is_refused(db: None) -> None:
    (tag,) = run(new_donation(1))
    with pytest.raises(Conflict, match="rechargez"):
        run(workshop.retire_device(tag, workshop.RetireIn("parts", version=99), "t"))


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("PC portable", "laptop"),
        ("Portable", "laptop"),
        ("ordinateur PORTABLE", "laptop"),
        ("Unité centrale", "desktop"),
        ("unite centrale", "desktop"),
        ("Tour", "desktop"),
        ("PC fixe", "desktop"),
        ("Écran", "screen"),
        ("ECRAN", "screen"),
        ("Tablette", "tablet"),
        ("Smartphone", "tablet"),
        ("Tout-en-un", "all_in_one"),
        ("Station d’accueil", "dock"),
        ("laptop", "laptop"),
        ("", "laptop"),
    ],
)
def test_intake_words(word: str, kind: str) -> None:
    assert parse_kind(word) == kind


def test_an_unknown_word_lists_the_accepted_values() -> None:
    with pytest.raises(Invalid) as refused:
        parse_kind("Grille-pain")
    message = str(refused.value)
    assert "«\u00a0Grille-pain\u00a0»" in message and "Valeurs acceptées" in message
    for words in ("Portable", "PC portable", "Ordinateur fixe", "unité centrale", "Écran"):
        assert words in message
    with pytest.raises(Invalid, match="^Ligne 3 : type d'appareil inconnu"):
        read_devices(b"type;marque\nPortable;HP\nGrille-pain;X\n", "don.csv")


def test_a_donor_sheet_in_everyday_words_is_registered(db: None) -> None:
    sheet = "Type;Marque;Modèle\nPC portable;HP;840\nUnité centrale;Dell;7010\nÉcran;Iiyama;X\n"
    specs = read_devices(sheet.encode(), "don.csv")
    assert [s.kind for s in specs] == ["laptop", "desktop", "screen"]
    site = run(intake.create_site("Atelier"))
    lot = run(
        intake.register_donation(
            new_donor=intake.DonorIn("Mairie", "public_body"),
            site_id=site["id"],
            received_on=date.today(),
            devices=[intake.DeviceSpec(kind="Tour"), intake.DeviceSpec(kind="Tablette")],
            actor="t",
        )
    )
    kinds = [run(devices.get_device(t))["kind"] for t in lot["tags"]]
    assert kinds == ["desktop", "tablet"]
