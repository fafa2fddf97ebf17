"""Mediation sessions with the Coop de la médiation numérique vocabulary, so figures pool.

One command per operation, used alike by the API, the pages and the tests: `SessionRecord`
(record or correct a session), `UnplannedSessionIn` (a session nobody planned), `WorkshopIn`
(a collective workshop). Answers are `SessionOut` (a session), `RemindersOut` (the daily digest).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from inventory.states import N_
from inventory.tables import Event
from loans.tables import Borrower, Loan, MediationSession, SessionAttendee


class Theme(StrEnum):
    diagnostic_numerique = "diagnostic_numerique"
    prendre_en_main_du_materiel = "prendre_en_main_du_materiel"
    maintenance_de_materiel = "maintenance_de_materiel"
    gerer_ses_contenus_numeriques = "gerer_ses_contenus_numeriques"
    navigation_sur_internet = "navigation_sur_internet"
    email = "email"
    bureautique = "bureautique"
    reseaux_sociaux_communication = "reseaux_sociaux_communication"
    sante = "sante"
    banque_et_achats_en_ligne = "banque_et_achats_en_ligne"
    accompagner_un_professionnel = "accompagner_un_professionnel"
    insertion_professionnelle = "insertion_professionnelle"
    prevention_en_securite_numerique = "prevention_en_securite_numerique"
    parentalite = "parentalite"
    scolarite_et_numerique = "scolarite_et_numerique"
    creer_avec_le_numerique = "creer_avec_le_numerique"
    culture_numerique = "culture_numerique"
    intelligence_artificielle = "intelligence_artificielle"
    aide_aux_demarches_administratives = "aide_aux_demarches_administratives"


class PlaceType(StrEnum):
    lieu_activite = "lieu_activite"
    domicile = "domicile"
    a_distance = "a_distance"
    autre = "autre"


class Autonomy(StrEnum):
    avec_guidage = "avec_guidage"
    partiellement_autonome = "partiellement_autonome"
    autonome = "autonome"


class Outcome(StrEnum):
    """What a recorded session became (a planned session is not an outcome)."""

    done = "done"
    missed = "missed"
    cancelled = "cancelled"


THEMES: dict[str, str] = {
    Theme.diagnostic_numerique: N_("Diagnostic numérique"),
    Theme.prendre_en_main_du_materiel: N_("Prendre en main du matériel"),
    Theme.maintenance_de_materiel: N_("Maintenance de matériel"),
    Theme.gerer_ses_contenus_numeriques: N_("Gérer ses contenus numériques"),
    Theme.navigation_sur_internet: N_("Navigation sur internet"),
    Theme.email: N_("E-mail"),
    Theme.bureautique: N_("Bureautique"),
    Theme.reseaux_sociaux_communication: N_("Réseaux sociaux communication"),
    Theme.sante: N_("Santé"),
    Theme.banque_et_achats_en_ligne: N_("Banque et achats en ligne"),
    Theme.accompagner_un_professionnel: N_("Accompagner un professionnel"),
    Theme.insertion_professionnelle: N_("Insertion professionnelle"),
    Theme.prevention_en_securite_numerique: N_("Prévention en sécurité numérique"),
    Theme.parentalite: N_("Parentalité"),
    Theme.scolarite_et_numerique: N_("Scolarité et numérique"),
    Theme.creer_avec_le_numerique: N_("Créer avec le numérique"),
    Theme.culture_numerique: N_("Culture numérique"),
    Theme.intelligence_artificielle: N_("Intelligence artificielle"),
    Theme.aide_aux_demarches_administratives: N_("Aide aux démarches administratives"),
}
PLACE_TYPES: dict[str, str] = {
    PlaceType.lieu_activite: N_("Lieu d'activité"),
    PlaceType.domicile: N_("À domicile"),
    PlaceType.a_distance: N_("À distance"),
    PlaceType.autre: N_("Autre"),
}
AUTONOMY: dict[str, str] = {
    Autonomy.avec_guidage: N_("Avec guidage"),
    Autonomy.partiellement_autonome: N_("Partiellement autonome"),
    Autonomy.autonome: N_("Autonome"),
}
STATUSES = {
    "planned": N_("Prévue"),
    Outcome.done: N_("Réalisée"),
    Outcome.missed: N_("Absence"),
    Outcome.cancelled: N_("Annulée"),
}
# The statuses a person may record (the forms' choices).
OUTCOMES = {k: v for k, v in STATUSES.items() if k != "planned"}
# How the reason of a session cancelled by its loan's closing begins (loans/repairs.py).
CLOSED_LOAN = "Prêt clôturé"
DEFAULT_FOLLOWUPS = [{"label": "prise en main", "days": 7}, {"label": "usages", "days": 30}]

Mediator = Annotated[str, msgspec.Meta(max_length=120)]
Label = Annotated[str, msgspec.Meta(max_length=120)]
Notes = Annotated[str, msgspec.Meta(max_length=1000)]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=600)]
Themes = Annotated[list[Theme], msgspec.Meta(max_length=len(Theme))]
Ids = Annotated[list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(max_length=100)]


class SessionRecord(msgspec.Struct, forbid_unknown_fields=True):
    """What happened at a session: recording a planned one, correcting a recorded one, or (with
    `UnplannedSessionIn`) one nobody planned. The place, duration, themes and autonomy describe
    a session held (`done`); for a missed or cancelled one they are left empty."""

    status: Outcome
    held_on: date | None = None
    # Who held it; empty: the session's planned mediator, else whoever records it.
    mediator: Mediator = ""
    place_type: PlaceType | None = None
    duration_minutes: Minutes = 0
    themes: Themes = []
    autonomy: Autonomy | None = None
    notes: Notes = ""
    # A collective workshop: the participants (borrower ids) who came; empty for one person.
    attended: Ids = []

    field_labels: ClassVar[dict[str, str]] = {
        "status": "Statut",
        "held_on": "Date de la séance",
        "mediator": "Médiateur",
        "place_type": "Type de lieu",
        "duration_minutes": "Durée",
        "themes": "Thématiques",
        "autonomy": "Niveau d'autonomie",
        "notes": "Notes",
        "attended": "Présents",
    }


class UnplannedSessionIn(SessionRecord, kw_only=True):
    """A session nobody planned (someone came by), for a borrower named by their code."""

    borrower: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    loan: Annotated[int, msgspec.Meta(ge=1)] | None = None
    label: Label = ""

    field_labels: ClassVar[dict[str, str]] = {
        **SessionRecord.field_labels,
        "borrower": "Code de l'emprunteur",
        "loan": "Numéro de prêt",
        "label": "Intitulé",
    }


class WorkshopIn(msgspec.Struct, forbid_unknown_fields=True):
    """A collective workshop planned for several borrowers."""

    planned_on: date
    borrower_ids: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(min_length=1, max_length=100)
    ]
    label: Label = ""
    mediator: Mediator = ""

    field_labels: ClassVar[dict[str, str]] = {
        "planned_on": "Date de l'atelier",
        "borrower_ids": "Participants",
        "label": "Intitulé",
        "mediator": "Médiateur",
    }


class SessionOut(msgspec.Struct):
    """A session as the API shows it (the agenda adds `borrower_code` and `overdue`)."""

    id: int
    loan: int | None
    borrower: int | None
    programme: int | None
    label: str
    planned_on: date | None
    status: str
    held_on: date | None
    mediator: str
    place_type: str
    duration_minutes: int
    themes: list[str]
    autonomy: str
    notes: str
    collective: bool
    cancel_reason: str
    attendees: list[int] = []
    borrower_code: str | None = None
    overdue: bool = False


class OverdueLoan(msgspec.Struct):
    id: int
    borrower_code: str | None
    due_on: date | None


class RemindersOut(msgspec.Struct):
    """What the daily job would send."""

    today: date
    overdue_loans: list[OverdueLoan]
    overdue_sessions: list[SessionOut]
    upcoming_sessions: list[SessionOut]


def session_out(row: dict[str, Any]) -> SessionOut:
    """A session row (from `get_session`, `agenda`, `recent`) as the API's answer."""
    return msgspec.convert(row, SessionOut, strict=False)


def sessions_out(rows: list[dict[str, Any]]) -> list[SessionOut]:
    return [session_out(row) for row in rows]


def reminders_out(
    today: date,
    overdue_loans: list[dict[str, Any]],
    overdue_sessions: list[dict[str, Any]],
    upcoming_sessions: list[dict[str, Any]],
) -> RemindersOut:
    return RemindersOut(
        today=today,
        overdue_loans=[msgspec.convert(r, OverdueLoan) for r in overdue_loans],
        overdue_sessions=sessions_out(overdue_sessions),
        upcoming_sessions=sessions_out(upcoming_sessions),
    )


async def plan_followups(
    loan_id: int, borrower_id: int, programme: dict[str, Any] | None, start: date, mediator: str
) -> list[int]:
    """The programme's follow-ups (default: +7 and +30 days), inside the checkout transaction."""
    plan = programme["followups"] if programme else DEFAULT_FOLLOWUPS
    ids = []
    for step in plan:
        rows = await MediationSession.insert(
            MediationSession(
                loan=loan_id,
                borrower=borrower_id,
                programme=programme["id"] if programme else None,
                label=step["label"],
                planned_on=start + timedelta(days=int(step["days"])),
                status="planned",
                mediator=mediator,
            )
        ).returning(MediationSession.id)
        ids.append(rows[0]["id"])
    return ids


def _checked(record: SessionRecord) -> dict[str, Any]:
    """The record's values as the row stores them (plain strings), or the field at fault.

    The struct is checked again (code may have built it with its constructor); a session held
    needs its date, place, duration, themes and autonomy; a missed or cancelled one keeps none
    of them, whoever sends them (page or API)."""
    record = checked(record)
    themes = [str(theme) for theme in record.themes]
    if len(set(themes)) != len(themes):
        raise FieldInvalid("themes", "Thématiques : une thématique est choisie deux fois.")
    if record.status != Outcome.done:
        return {
            "status": str(record.status),
            "held_on": None,
            "place_type": "",
            "duration_minutes": 0,
            "themes": [],
            "autonomy": "",
            "notes": record.notes.strip(),
        }
    if record.held_on is None:
        raise FieldInvalid("held_on", "Indiquez la date de la séance.")
    if record.place_type is None:
        raise FieldInvalid("place_type", f"Type de lieu attendu : {', '.join(PLACE_TYPES)}.")
    if not 1 <= record.duration_minutes <= 600:
        raise FieldInvalid("duration_minutes", "La durée d'une séance va de 1 à 600 minutes.")
    if not themes:
        raise FieldInvalid("themes", "Choisissez au moins une thématique.")
    if record.autonomy is None:
        raise FieldInvalid("autonomy", f"Niveau d'autonomie attendu : {', '.join(AUTONOMY)}.")
    return {
        "status": str(record.status),
        "held_on": record.held_on,
        "place_type": str(record.place_type),
        "duration_minutes": record.duration_minutes,
        "themes": themes,
        "autonomy": str(record.autonomy),
        "notes": record.notes.strip(),
    }


def _mediator(record: SessionRecord, row: dict[str, Any] | None, actor: str) -> str:
    """Who held the session: the one named, else the one it was planned for, else the actor."""
    return record.mediator.strip() or (row["mediator"] if row else "") or actor


async def record_session(session_id: int, record: SessionRecord, actor: str) -> dict[str, Any]:
    """Record what happened at a planned session (done, missed or cancelled), with its event."""
    values = _checked(record)
    async with write_transaction(MediationSession):
        row = await MediationSession.select().where(MediationSession.id == session_id).first()
        if row is None:
            raise NotFound(f"Séance {session_id} inconnue.")
        # A session cancelled only because its loan closed may still take place: it is recorded.
        after_closing = row["status"] == "cancelled" and row["cancel_reason"].startswith(
            CLOSED_LOAN
        )
        if row["status"] != "planned" and not after_closing:
            raise Conflict("Cette séance est déjà enregistrée : corrigez-la depuis sa page.")
        await MediationSession.update(
            {
                MediationSession.cancel_reason: "" if after_closing else row["cancel_reason"],
                MediationSession.mediator: _mediator(record, row, actor),
                **{getattr(MediationSession, key): value for key, value in values.items()},
            }
        ).where(MediationSession.id == session_id)
        attended = await _attended(session_id, row, record)
        await write_event(
            None,
            actor,
            "session_recorded",
            None,
            None,
            {
                "session_id": session_id,
                "status": values["status"],
                "themes": values["themes"],
                "duration_minutes": values["duration_minutes"],
                **({"attended": attended} if row["collective"] else {}),
                **({"after_loan_closed": True} if after_closing else {}),
            },
            loan_id=row["loan"],
        )
    return await get_session(session_id)


async def create_workshop(command: WorkshopIn, actor: str) -> dict[str, Any]:
    """A collective workshop with several borrowers."""
    command = checked(command)
    borrower_ids = sorted(set(command.borrower_ids))
    found = await Borrower.count().where(Borrower.id.is_in(borrower_ids))
    if found != len(borrower_ids):
        raise NotFound("Un des emprunteurs de l'atelier est inconnu.")
    async with write_transaction(MediationSession):
        rows = await MediationSession.insert(
            MediationSession(
                planned_on=command.planned_on,
                mediator=command.mediator.strip() or actor,
                label=(command.label.strip() or "atelier collectif")[:120],
                status="planned",
                collective=True,
            )
        ).returning(MediationSession.id)
        session_id = rows[0]["id"]
        for borrower_id in borrower_ids:
            await SessionAttendee.insert(SessionAttendee(session=session_id, borrower=borrower_id))
        await write_event(
            None,
            actor,
            "session_planned",
            None,
            None,
            {"session_id": session_id, "participants": len(borrower_ids)},
        )
    return await get_session(session_id)


async def get_session(session_id: int) -> dict[str, Any]:
    row = await (
        MediationSession.select()
        .where(MediationSession.id == session_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"Séance {session_id} inconnue.")
    row["attendees"] = [
        a["borrower"]
        for a in await SessionAttendee.select(SessionAttendee.borrower).where(
            SessionAttendee.session == session_id
        )
    ]
    return row


async def agenda(today: date, mediator: str | None = None, days: int = 30) -> list[dict[str, Any]]:
    """Planned sessions up to `days` ahead, overdue first (flagged), for one mediator or all."""
    where = (MediationSession.status == "planned") & (
        MediationSession.planned_on <= today + timedelta(days=days)
    )
    if mediator:
        where &= MediationSession.mediator == mediator
    rows = await (
        MediationSession.select(
            *MediationSession.all_columns(),
            MediationSession.borrower.code.as_alias("borrower_code"),
        )
        .where(where)
        .order_by(MediationSession.planned_on)
        .output(load_json=True)
    )
    for row in rows:
        row["overdue"] = row["planned_on"] < today
    return rows


# What a correction may change, in the order the history lists them.
CORRECTABLE = (
    "status",
    "held_on",
    "mediator",
    "place_type",
    "duration_minutes",
    "themes",
    "autonomy",
    "notes",
)
SESSION_EVENTS = (
    "session_recorded",
    "session_corrected",
    "session_cancelled",
    "session_planned",
)


async def _attended(session_id: int, row: dict[str, Any], record: SessionRecord) -> list[int]:
    """The participants who came to a workshop: some of its registered participants."""
    if not row["collective"]:
        if record.attended:
            raise FieldInvalid("attended", "La présence ne se note que pour un atelier collectif.")
        return []
    registered = {
        a["borrower"]
        for a in await SessionAttendee.select(SessionAttendee.borrower).where(
            SessionAttendee.session == session_id
        )
    }
    if not set(record.attended) <= registered:
        raise FieldInvalid(
            "attended", "Une personne notée présente n'est pas inscrite à cet atelier."
        )
    if record.status == Outcome.done and not record.attended:
        # Without a list (the API before attendance existed), everyone registered came.
        return sorted(registered)
    return sorted(set(record.attended))


async def correct_session(session_id: int, record: SessionRecord, actor: str) -> dict[str, Any]:
    """Correct a recorded session: the row takes the new values and a `session_corrected`
    event keeps what changed (old and new values; notes are personal, only flagged)."""
    values = _checked(record)
    async with write_transaction(MediationSession):
        row = await (
            MediationSession.select()
            .where(MediationSession.id == session_id)
            .output(load_json=True)
            .first()
        )
        if row is None:
            raise NotFound(f"Séance {session_id} inconnue.")
        if row["status"] == "planned":
            raise Conflict("Cette séance n'est pas encore enregistrée : enregistrez-la d'abord.")
        new = {**values, "mediator": _mediator(record, row, actor)}
        changes: dict[str, Any] = {}
        for key in CORRECTABLE:
            if new[key] != row[key]:
                if key == "notes":
                    changes[key] = True
                elif key == "held_on":
                    old = row[key].isoformat() if row[key] else None
                    changes[key] = [old, new[key].isoformat() if new[key] else None]
                else:
                    changes[key] = [row[key], new[key]]
        attended = await _attended(session_id, row, record)
        if row["collective"]:
            before = await _last_attendance(session_id)
            if before != attended:
                changes["attended"] = [before, attended]
        if not changes:
            raise Invalid("Rien n'a changé : modifiez au moins un champ pour corriger.")
        columns = {getattr(MediationSession, key): value for key, value in new.items()}
        # The closing's reason no longer holds once the session is said to have happened.
        if record.status != Outcome.cancelled:
            columns[MediationSession.cancel_reason] = ""
        await MediationSession.update(columns).where(MediationSession.id == session_id)
        await write_event(
            None,
            actor,
            "session_corrected",
            None,
            None,
            {"session_id": session_id, "changes": changes},
            loan_id=row["loan"],
        )
    return await get_session(session_id)


async def add_session(command: UnplannedSessionIn, actor: str) -> dict[str, Any]:
    """A session that was not planned (someone came by), recorded at once."""
    values = _checked(command)
    if command.attended:
        raise FieldInvalid("attended", "La présence ne se note que pour un atelier collectif.")
    (borrower_id,) = await borrower_ids_by_code([command.borrower], field="borrower")
    loan_id = command.loan
    async with write_transaction(MediationSession):
        if loan_id is not None:
            loan = await Loan.select(Loan.borrower).where(Loan.id == loan_id).first()
            if loan is None:
                raise FieldInvalid("loan", f"Prêt n° {loan_id} inconnu.")
            if loan["borrower"] != borrower_id:
                raise FieldInvalid(
                    "loan", f"Le prêt n° {loan_id} n'est pas celui de cet emprunteur."
                )
        rows = await MediationSession.insert(
            MediationSession(
                loan=loan_id,
                borrower=borrower_id,
                label=(command.label.strip() or "séance non prévue")[:120],
                planned_on=None,
                mediator=_mediator(command, None, actor),
                **values,
            )
        ).returning(MediationSession.id)
        session_id = rows[0]["id"]
        await write_event(
            None,
            actor,
            "session_recorded",
            None,
            None,
            {
                "session_id": session_id,
                "status": values["status"],
                "themes": values["themes"],
                "duration_minutes": values["duration_minutes"],
                "unplanned": True,
            },
            loan_id=loan_id,
        )
    return await get_session(session_id)


async def cancel_sessions_of_loan(loan_id: int, reason: str, actor: str) -> list[int]:
    """Inside the transaction that closes a loan: its planned sessions are cancelled, each
    with the reason and an event."""
    rows = await MediationSession.select(MediationSession.id).where(
        (MediationSession.loan == loan_id) & (MediationSession.status == "planned")
    )
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    await MediationSession.update(
        {MediationSession.status: "cancelled", MediationSession.cancel_reason: reason[:200]}
    ).where(MediationSession.id.is_in(ids))
    for session_id in ids:
        await write_event(
            None,
            actor,
            "session_cancelled",
            None,
            None,
            {"session_id": session_id, "reason": reason[:200]},
            loan_id=loan_id,
        )
    return ids


async def borrower_ids_by_code(codes: list[str], field: str = "participants") -> list[int]:
    """The borrowers named by their codes (B-XXXXXX); refuses naming the unknown codes (the
    refusal names the form's `field`)."""
    wanted = [c.strip().upper() for c in codes if c.strip()]
    if not wanted:
        raise FieldInvalid(field, "Indiquez au moins un code d'emprunteur (B-XXXXXX).")
    rows = await Borrower.select(Borrower.id, Borrower.code).where(
        Borrower.code.is_in(wanted) & Borrower.anonymised_at.is_null()
    )
    found = {r["code"]: r["id"] for r in rows}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise FieldInvalid(field, f"Codes d'emprunteur inconnus : {', '.join(unknown)}.")
    return [found[c] for c in dict.fromkeys(wanted)]


async def _session_events(session_id: int) -> list[dict[str, Any]]:
    row = (
        await MediationSession.select(MediationSession.loan)
        .where(MediationSession.id == session_id)
        .first()
    )
    where = Event.kind.is_in(list(SESSION_EVENTS))
    where &= (
        Event.loan_id.is_null()
        if row is None or row["loan"] is None
        else (Event.loan_id == row["loan"])
    )
    events = await Event.select().where(where).order_by(Event.id).output(load_json=True)
    return [e for e in events if (e["payload"] or {}).get("session_id") == session_id]


async def _last_attendance(session_id: int) -> list[int]:
    for event in reversed(await _session_events(session_id)):
        payload = event["payload"]
        if event["kind"] == "session_corrected" and "attended" in payload.get("changes", {}):
            return payload["changes"]["attended"][1]
        if event["kind"] == "session_recorded" and "attended" in payload:
            return payload["attended"]
    return []


async def session_history(session_id: int) -> dict[str, Any]:
    """The session's events, oldest first, and who attended a workshop (latest word)."""
    return {
        "events": await _session_events(session_id),
        "attended": await _last_attendance(session_id),
    }


async def recent(mediator: str | None, days: int = 60) -> list[dict[str, Any]]:
    """Sessions recorded (held, missed or cancelled) in the last `days`, newest first."""
    since = date.today() - timedelta(days=days)
    where = (MediationSession.status != "planned") & (
        (MediationSession.held_on >= since) | (MediationSession.planned_on >= since)
    )
    if mediator:
        where &= MediationSession.mediator == mediator
    rows = await (
        MediationSession.select(
            *MediationSession.all_columns(),
            MediationSession.borrower.code.as_alias("borrower_code"),
        )
        .where(where)
        .order_by(MediationSession.id, ascending=False)
        .limit(100)
        .output(load_json=True)
    )
    return rows
