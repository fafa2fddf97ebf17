"""Mediation services of issue 12: correcting a session (a new event, both kept), unplanned
sessions, workshop attendance, planned sessions cancelled when their loan closes (every path),
and the self-audit check that no planned session stays on a closed loan."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from inventory.errors import Conflict, Invalid, NotFound
from inventory.tables import Event
from loans import audit, borrowers, checkout, mediation, repairs, returns
from loans.tables import Loan, MediationSession
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db

DONE = mediation.SessionRecord(
    status="done",
    held_on=date.today(),
    place_type="domicile",
    duration_minutes=45,
    themes=["email"],
    autonomy="avec_guidage",
    notes="première prise en main",
)


def lend(count: int = 1) -> tuple[dict, list[str]]:
    setup = run(loan_setup())
    tags = run(ready_devices(count))
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], tags, setup["programme"]["id"]),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )
    return loan, tags


def sessions_of(loan_id: int) -> list[dict]:
    return run(
        MediationSession.select()
        .where(MediationSession.loan == loan_id)
        .order_by(MediationSession.planned_on)
    )


def kinds(loan_id: int) -> list[str]:
    rows = run(Event.select(Event.kind).where(Event.loan_id == loan_id).order_by(Event.id))
    return [r["kind"] for r in rows]


def test_a_correction_is_a_new_event_and_the_history_shows_both(db: None) -> None:
    loan, _ = lend()
    first = sessions_of(loan["id"])[0]
    with pytest.raises(Conflict, match="pas encore enregistrée"):
        run(mediation.correct_session(first["id"], DONE, "mediatrice"))
    run(mediation.record_session(first["id"], DONE, "mediatrice"))
    fixed = mediation.SessionRecord(**{**DONE.__dict__, "duration_minutes": 60, "notes": "x"})
    corrected = run(mediation.correct_session(first["id"], fixed, "coordinatrice"))
    assert corrected["duration_minutes"] == 60 and corrected["status"] == "done"
    history = run(mediation.session_history(first["id"]))["events"]
    assert [e["kind"] for e in history] == ["session_recorded", "session_corrected"]
    changes = history[1]["payload"]["changes"]
    assert changes == {"duration_minutes": [45, 60], "notes": True}  # notes' words not kept
    assert history[1]["actor"] == "coordinatrice"
    with pytest.raises(Invalid, match="Rien n'a changé"):
        run(mediation.correct_session(first["id"], fixed, "coordinatrice"))
    # The other session's history is its own.
    assert run(mediation.session_history(sessions_of(loan["id"])[1]["id"]))["events"] == []


def test_an_unplanned_session_is_recorded_at_once(db: None) -> None:
    loan, _ = lend()
    borrower = loan["borrower"] if isinstance(loan["borrower"], int) else loan["borrower"]["id"]
    session = run(mediation.add_session(borrower, loan["id"], "passage", DONE, "mediatrice"))
    assert session["status"] == "done" and session["planned_on"] is None
    assert session["loan"] == loan["id"] and session["mediator"] == "mediatrice"
    (event,) = run(mediation.session_history(session["id"]))["events"]
    assert event["kind"] == "session_recorded" and event["payload"]["unplanned"] is True
    alone = run(mediation.add_session(borrower, None, "", DONE, "mediatrice"))
    assert alone["loan"] is None and alone["label"] == "séance non prévue"
    other = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    with pytest.raises(Invalid, match="n'est pas celui"):
        run(mediation.add_session(other["id"], loan["id"], "", DONE, "m"))
    with pytest.raises(NotFound):
        run(mediation.add_session(other["id"], 999999, "", DONE, "m"))
    with pytest.raises(Invalid, match="durée"):
        bad = mediation.SessionRecord(**{**DONE.__dict__, "duration_minutes": 0})
        run(mediation.add_session(other["id"], None, "", bad, "m"))


def test_workshop_by_codes_with_attendance_and_its_correction(db: None) -> None:
    run(loan_setup())
    sam = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    lou = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Lou Martin")))
    ids = run(mediation.borrower_ids_by_code([sam["code"].lower(), lou["code"]]))
    assert ids == [sam["id"], lou["id"]]
    with pytest.raises(Invalid, match="B-ZZZZZZ"):
        run(mediation.borrower_ids_by_code([sam["code"], "B-ZZZZZZ"]))
    workshop = run(mediation.create_workshop(date.today(), "", "Atelier mails", ids, "mediatrice"))
    assert workshop["mediator"] == "mediatrice"
    came = mediation.SessionRecord(**{**DONE.__dict__, "attended": [sam["id"]]})
    run(mediation.record_session(workshop["id"], came, "mediatrice"))
    history = run(mediation.session_history(workshop["id"]))
    assert history["attended"] == [sam["id"]]
    assert [e["kind"] for e in history["events"]] == ["session_planned", "session_recorded"]
    both = mediation.SessionRecord(**{**DONE.__dict__, "attended": [sam["id"], lou["id"]]})
    run(mediation.correct_session(workshop["id"], both, "mediatrice"))
    history = run(mediation.session_history(workshop["id"]))
    assert history["attended"] == [sam["id"], lou["id"]]
    assert history["events"][-1]["payload"]["changes"] == {
        "attended": [[sam["id"]], [sam["id"], lou["id"]]]
    }
    stranger = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Ali Nour")))
    with pytest.raises(Invalid, match="inscrite"):
        run(
            mediation.correct_session(
                workshop["id"],
                mediation.SessionRecord(**{**DONE.__dict__, "attended": [stranger["id"]]}),
                "m",
            )
        )


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("end", "Prêt clôturé : appareil rendu"),
        ("lost", "Prêt clôturé : appareil perdu"),
        ("stolen", "Prêt clôturé : appareil volé"),
    ],
)
def test_closing_a_loan_cancels_its_planned_sessions(db: None, reason: str, words: str) -> None:
    loan, (tag,) = lend()
    first, second = sessions_of(loan["id"])
    run(mediation.record_session(first["id"], DONE, "mediatrice"))
    data = returns.ReturnIn(reason=reason, police_report="PV-1" if reason == "stolen" else "")
    closed = run(returns.check_in(tag, data, "mediatrice"))
    assert closed["status"] == "closed"
    done, cancelled = sessions_of(loan["id"])
    assert done["status"] == "done" and done["cancel_reason"] == ""
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", words)
    assert kinds(loan["id"])[-2:] == ["session_cancelled", "loan_closed"]
    assert run(audit.audit_sessions()) == []


def test_a_loan_closed_after_a_repair_cancels_its_sessions(db: None) -> None:
    loan, (tag,) = lend()
    run(returns.check_in(tag, returns.ReturnIn(reason="repair", damage_notes="écran"), "m"))
    assert {s["status"] for s in sessions_of(loan["id"])} == {"planned"}
    ticket = run(repairs.RepairTicket.select().where(repairs.RepairTicket.loan == loan["id"]))[0]
    run(repairs.close_ticket(ticket["id"], outcome="repaired", actions="écran changé", actor="t"))
    run(returns.check_in(tag, returns.ReturnIn(reason="end"), "mediatrice"))
    assert {s["status"] for s in sessions_of(loan["id"])} == {"cancelled"}


def test_the_self_audit_finds_a_planned_session_on_a_closed_loan(db: None) -> None:
    loan, _ = lend()
    first = sessions_of(loan["id"])[0]
    # A closed loan whose session stayed planned (as before this check existed).
    run(Loan.update({Loan.status: "closed"}).where(Loan.id == loan["id"]))
    found = run(audit.audit_sessions())
    assert [v.check for v in found] == ["sessions", "sessions"]
    assert f"prêt n° {loan['id']} est clôturé" in found[0].sentence
    # Put things right for the audit run after every test.
    run(Loan.update({Loan.status: "open"}).where(Loan.id == loan["id"]))
    assert first["status"] == "planned" and run(audit.audit_sessions()) == []


def test_the_agenda_of_all_mediators_and_recent_sessions(db: None) -> None:
    loan, _ = lend()
    assert len(run(mediation.agenda(date.today(), None, days=60))) == 2
    assert run(mediation.agenda(date.today(), "coordinatrice", days=60)) == []
    first = sessions_of(loan["id"])[0]
    run(mediation.record_session(first["id"], DONE, "mediatrice"))
    (recent,) = run(mediation.recent("mediatrice"))
    assert recent["id"] == first["id"] and recent["borrower_code"] == loan["borrower_code"]
    assert run(mediation.recent(None, days=60))[0]["id"] == first["id"]
    assert date.today() - timedelta(days=60) <= recent["held_on"]


def test_a_session_cancelled_by_the_closing_may_still_be_recorded(db: None) -> None:
    loan, (tag,) = lend()
    run(returns.check_in(tag, returns.ReturnIn(reason="end"), "mediatrice"))
    first, second = sessions_of(loan["id"])
    assert first["status"] == "cancelled"
    done = run(mediation.record_session(first["id"], DONE, "mediatrice"))
    assert done["status"] == "done" and done["cancel_reason"] == ""
    (recorded,) = [
        e
        for e in run(mediation.session_history(first["id"]))["events"]
        if e["kind"] == "session_recorded"
    ]
    assert recorded["payload"]["after_loan_closed"] is True
    with pytest.raises(Conflict, match="déjà enregistrée"):
        run(mediation.record_session(first["id"], DONE, "mediatrice"))
    # A session cancelled by a person is not recorded again: it is corrected.
    run(mediation.correct_session(second["id"], DONE, "mediatrice"))
    missed = mediation.SessionRecord(status="missed")
    with pytest.raises(Conflict):
        run(mediation.record_session(second["id"], missed, "mediatrice"))
