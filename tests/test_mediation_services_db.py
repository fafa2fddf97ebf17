"""Mediation services of issue 12: correcting a session (a new event, both kept), unplanned
sessions, workshop attendance, planned sessions cancelled when their loan closes (every path),
and the self-audit check that no planned session stays on a closed loan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from inventory.errors import Conflict, FieldInvalid, Invalid
from inventory.tables import Event
from loans import activities_export, audit, borrowers, checkout, mediation, repairs, returns
from loans.tables import Charter, Loan, MediationSession
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db

DONE = mediation.SessionRecord(
    status="done",
    held_on=date.today(),
    place_type="domicile",
    commune_insee="69266",
    duration_minutes=45,
    themes=["email"],
    autonomy="entierement_accompagne",
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
    fixed = msgspec.structs.replace(DONE, duration_minutes=60, notes="x")
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


def unplanned(borrower: dict, loan: int | None, label: str = "", **changes: object):
    return mediation.UnplannedSessionIn(
        **{**msgspec.structs.asdict(DONE), **changes},
        borrower=borrower["code"],
        loan=loan,
        label=label,
    )


def test_an_unplanned_session_is_recorded_at_once(db: None) -> None:
    loan, _ = lend()
    owner = loan["borrower"] if isinstance(loan["borrower"], int) else loan["borrower"]["id"]
    borrower = run(borrowers.get_borrower(owner))
    session = run(mediation.add_session(unplanned(borrower, loan["id"], "passage"), "mediatrice"))
    assert session["status"] == "done" and session["planned_on"] is None
    assert session["loan"] == loan["id"] and session["mediator"] == "mediatrice"
    (event,) = run(mediation.session_history(session["id"]))["events"]
    assert event["kind"] == "session_recorded" and event["payload"]["unplanned"] is True
    alone = run(mediation.add_session(unplanned(borrower, None), "mediatrice"))
    assert alone["loan"] is None and alone["label"] == "séance non prévue"
    other = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    with pytest.raises(FieldInvalid, match="n'est pas celui") as refusal:
        run(mediation.add_session(unplanned(other, loan["id"]), "m"))
    assert refusal.value.field == "loan"
    with pytest.raises(FieldInvalid, match="inconnu"):
        run(mediation.add_session(unplanned(other, 999999), "m"))
    with pytest.raises(FieldInvalid, match="B-ZZZZZZ") as refusal:
        run(mediation.add_session(unplanned({"code": "B-ZZZZZZ"}, None), "m"))
    assert refusal.value.field == "borrower"
    with pytest.raises(FieldInvalid, match="durée") as refusal:
        run(mediation.add_session(unplanned(other, None, duration_minutes=0), "m"))
    assert refusal.value.field == "duration_minutes"
    # Built by code with a value out of its range: refused as from the page or the API.
    with pytest.raises(FieldInvalid, match="Durée : 600 au plus") as refusal:
        run(mediation.add_session(unplanned(other, None, duration_minutes=601), "m"))


def test_workshop_by_codes_with_attendance_and_its_correction(db: None) -> None:
    run(loan_setup())
    sam = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    lou = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Lou Martin")))
    ids = run(mediation.borrower_ids_by_code([sam["code"].lower(), lou["code"]]))
    assert ids == [sam["id"], lou["id"]]
    with pytest.raises(Invalid, match="B-ZZZZZZ"):
        run(mediation.borrower_ids_by_code([sam["code"], "B-ZZZZZZ"]))
    command = mediation.WorkshopIn(planned_on=date.today(), borrower_ids=ids, label="Atelier mails")
    workshop = run(mediation.create_workshop(command, "mediatrice"))
    assert workshop["mediator"] == "mediatrice"
    came = msgspec.structs.replace(DONE, attended=[sam["id"]])
    run(mediation.record_session(workshop["id"], came, "mediatrice"))
    history = run(mediation.session_history(workshop["id"]))
    assert history["attended"] == [sam["id"]]
    assert [e["kind"] for e in history["events"]] == ["session_planned", "session_recorded"]
    both = msgspec.structs.replace(DONE, attended=[sam["id"], lou["id"]])
    run(mediation.correct_session(workshop["id"], both, "mediatrice"))
    history = run(mediation.session_history(workshop["id"]))
    assert history["attended"] == [sam["id"], lou["id"]]
    # The number of participants follows those noted present when it is not typed.
    assert history["events"][-1]["payload"]["changes"] == {
        "attended": [[sam["id"]], [sam["id"], lou["id"]]],
        "participants": [1, 2],
    }
    stranger = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Ali Nour")))
    with pytest.raises(Invalid, match="inscrite"):
        run(
            mediation.correct_session(
                workshop["id"],
                msgspec.structs.replace(DONE, attended=[stranger["id"]]),
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


def _staff(client: Any, token: str) -> dict[str, str]:
    client.get("/login")  # the CSRF cookie
    return {
        "Authorization": f"Bearer {token}",
        "x-csrftoken": client.cookies.get("reemploi_csrf", ""),
    }


RECORDED = (
    "status",
    "held_on",
    "mediator",
    "place_type",
    "duration_minutes",
    "themes",
    "autonomy",
    "notes",
    "cancel_reason",
    "commune_insee",
    "admin_themes",
    "demarche",
    "materiel",
    "redirection",
    "redirection_note",
    "age_band",
    "gender",
    "social_status",
)


def _recorded(session_id: int) -> dict[str, Any]:
    row = run(
        MediationSession.select()
        .where(MediationSession.id == session_id)
        .output(load_json=True)
        .first()
    )
    return {key: row[key] for key in RECORDED}


@pytest.mark.parametrize("status", ["done", "missed"])
def test_the_page_and_the_api_record_a_session_alike(
    client: Any, tokens: dict[str, str], status: str
) -> None:
    """One command (SessionRecord), one service: the session page and POST …/record store the
    same row, the planned mediator included, whoever records it."""
    loan, _ = lend()
    first, second = sessions_of(loan["id"])
    staff = _staff(client, tokens["coordinator"])
    body = {
        "status": status,
        "held_on": date.today().isoformat(),
        "place_type": "a_distance",
        "duration_minutes": 50,
        "themes": ["email", "aide_aux_demarches_administratives"],
        "admin_themes": ["logement", "justice"],
        "demarche": "Dossier de logement social",
        "materiel": ["ordinateur", "aucun"],
        "autonomy": "autonome",
        "redirection": "administration",
        "redirection_note": "Mairie annexe",
        "age_band": "soixante_dix_plus",
        "gender": "masculin",
        "social_status": "retraite",
        "commune_insee": "69266",
        "notes": " pareil ",
    }
    api = client.post(f"/api/v1/sessions/{first['id']}/record", json=body, headers=staff)
    assert api.status_code == 200, api.text
    assert api.json()["activity_type"] == "individuel"
    # The page types the commune by its name; the command takes its INSEE code.
    form = {**body, "duration_minutes": "50", "csrf_token": "ignoré", "commune": "Villeurbanne"}
    del form["commune_insee"]
    page = client.post(
        f"/sessions/{second['id']}", data=form, headers=staff, follow_redirects=False
    )
    assert page.status_code == 303, page.text[:800]
    assert _recorded(first["id"]) == _recorded(second["id"])
    assert _recorded(first["id"])["mediator"] == "mediatrice"  # the one it was planned for
    if status == "missed":
        assert _recorded(first["id"])["themes"] == [] and _recorded(first["id"])["held_on"] is None
    # A refusal names the same field both ways.
    bad = {**body, "status": "done", "duration_minutes": 0}
    other, again = sessions_of(lend()[0]["id"])
    refused = client.post(f"/api/v1/sessions/{other['id']}/record", json=bad, headers=staff)
    assert refused.status_code == 422 and "durée" in refused.json()["detail"]
    shown = client.post(
        f"/sessions/{again['id']}", data={**bad, "duration_minutes": "0"}, headers=staff
    )
    assert shown.status_code == 422 and "durée" in shown.text
    assert 'id="duration_minutes-error"' in shown.text


def test_the_page_and_the_api_plan_a_workshop_alike(client: Any, tokens: dict[str, str]) -> None:
    run(loan_setup())
    sam = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    lou = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Lou Martin")))
    staff = _staff(client, tokens["mediator"])
    when = (date.today() + timedelta(days=3)).isoformat()
    api = client.post(
        "/api/v1/sessions/workshops",
        json={"planned_on": when, "borrower_ids": [sam["id"], lou["id"]], "label": "Courriel"},
        headers=staff,
    )
    assert api.status_code == 201, api.text
    form = {
        "planned_on": when,
        "participants": f"{sam['code']}, {lou['code']}",
        "label": "Courriel",
    }
    page = client.post("/workshops/new", data=form, headers=staff, follow_redirects=False)
    assert page.status_code == 303, page.text[:800]
    by_page = run(mediation.get_session(int(page.headers["location"].rsplit("/", 1)[1])))
    by_api = api.json()
    for key in ("planned_on", "label", "mediator", "status", "collective"):
        assert str(by_page[key]) == str(by_api[key]), key
    assert sorted(by_page["attendees"]) == sorted(by_api["attendees"])
    assert by_api["mediator"] == "token:test-mediator"


def test_the_page_and_the_api_publish_a_charter_alike(client: Any, tokens: dict[str, str]) -> None:
    staff = _staff(client, tokens["coordinator"])
    first = {"title": "Charte", "text": "Texte.", "in_force_from": date.today().isoformat()}
    api = client.post("/api/v1/charters", json=first, headers=staff)
    assert api.status_code == 201, api.text
    page = client.post(
        "/charters/new", data={**first, "action": "publish"}, headers=staff, follow_redirects=False
    )
    assert page.status_code == 303, page.text[:800]
    rows = run(Charter.select().order_by(Charter.version))
    keep = ("title", "text", "in_force_from", "created_by")
    assert [{k: r[k] for k in keep} for r in rows] == [{k: rows[0][k] for k in keep}] * 2
    # The same refusal, the same sentence and field.
    empty = {"title": " ", "text": "Texte.", "in_force_from": date.today().isoformat()}
    refused = client.post("/api/v1/charters", json=empty, headers=staff)
    assert refused.status_code == 422 and "titre" in refused.json()["detail"]
    shown = client.post("/charters/new", data={**empty, "action": "publish"}, headers=staff)
    assert shown.status_code == 422 and refused.json()["detail"] in shown.text


def test_the_page_and_the_api_correct_and_add_sessions_alike(
    client: Any, tokens: dict[str, str]
) -> None:
    """Corrections (SessionRecord) and unplanned sessions (UnplannedSessionIn): one command
    each, the page's form and the API's JSON store the same rows."""
    loan, _ = lend()
    first, second = sessions_of(loan["id"])
    staff = _staff(client, tokens["mediator"])
    done = {
        "status": "done",
        "held_on": date.today().isoformat(),
        "place_type": "domicile",
        "commune_insee": "69266",
        "duration_minutes": 30,
        "themes": ["sante"],
        "autonomy": "entierement_accompagne",
    }
    for session in (first, second):
        answer = client.post(f"/api/v1/sessions/{session['id']}/record", json=done, headers=staff)
        assert answer.status_code == 200, answer.text
    fixed = {**done, "duration_minutes": 75, "themes": ["sante", "email"]}
    api = client.post(f"/api/v1/sessions/{first['id']}/correct", json=fixed, headers=staff)
    assert api.status_code == 200, api.text
    form = {**fixed, "duration_minutes": "75"}
    page = client.post(
        f"/sessions/{second['id']}/correct", data=form, headers=staff, follow_redirects=False
    )
    assert page.status_code == 303, page.text[:800]
    assert _recorded(first["id"]) == _recorded(second["id"])
    changes = [
        run(mediation.session_history(s["id"]))["events"][-1]["payload"]["changes"]
        for s in (first, second)
    ]
    assert (
        changes[0]
        == changes[1]
        == {
            "duration_minutes": [30, 75],
            "themes": [["sante"], ["sante", "email"]],
        }
    )
    owner = loan["borrower"] if isinstance(loan["borrower"], int) else loan["borrower"]["id"]
    code = run(borrowers.get_borrower(owner))["code"]
    unplanned = {**done, "borrower": code, "loan": loan["id"], "label": "passage"}
    by_api = client.post("/api/v1/sessions", json=unplanned, headers=staff)
    assert by_api.status_code == 201, by_api.text
    by_page = client.post(
        "/sessions/new",
        data={**unplanned, "loan": str(loan["id"]), "duration_minutes": "30"},
        headers=staff,
        follow_redirects=False,
    )
    assert by_page.status_code == 303, by_page.text[:800]
    page_id = int(by_page.headers["location"].rsplit("/", 1)[1])
    assert _recorded(by_api.json()["id"]) == _recorded(page_id)
    assert _recorded(page_id)["mediator"] == "token:test-mediator"
    # An unknown borrower code names the field, both ways.
    stranger = {**unplanned, "borrower": "B-ZZZZZZ"}
    refused = client.post("/api/v1/sessions", json=stranger, headers=staff)
    assert refused.status_code == 422 and "B-ZZZZZZ" in refused.json()["detail"]
    shown = client.post("/sessions/new", data={**stranger, "loan": ""}, headers=staff)
    assert shown.status_code == 422 and 'id="borrower"' in shown.text
    assert 'aria-invalid="true" aria-describedby="borrower-error"' in shown.text


def test_the_api_exports_the_activities_as_the_coop(client: Any, tokens: dict[str, str]) -> None:
    """GET /api/v1/sessions/activities: the Coop's columns, XLSX or CSV; a bad format is 422."""
    loan, _ = lend()
    first, _second = sessions_of(loan["id"])
    run(mediation.record_session(first["id"], DONE, "mediatrice"))
    staff = _staff(client, tokens["mediator"])
    today = date.today().isoformat()
    answer = client.get(
        f"/api/v1/sessions/activities?from={today}&to={today}&format=csv", headers=staff
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(";") == activities_export.HEADERS
    assert len(lines) == 2 and lines[1].split(";")[-1] == str(first["id"])
    xlsx = client.get(f"/api/v1/sessions/activities?from={today}&to={today}", headers=staff)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    bad = client.get(
        f"/api/v1/sessions/activities?from={today}&to={today}&format=ods", headers=staff
    )
    assert bad.status_code == 422 and "Format attendu" in bad.json()["detail"]
