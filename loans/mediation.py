"""Mediation sessions with the Coop de la médiation numérique vocabulary, so figures pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid, NotFound
from inventory.states import N_
from inventory.tables import Event
from loans.tables import Borrower, Loan, MediationSession, SessionAttendee

THEMES = {
    "diagnostic_numerique": N_("Diagnostic numérique"),
    "prendre_en_main_du_materiel": N_("Prendre en main du matériel"),
    "maintenance_de_materiel": N_("Maintenance de matériel"),
    "gerer_ses_contenus_numeriques": N_("Gérer ses contenus numériques"),
    "navigation_sur_internet": N_("Navigation sur internet"),
    "email": N_("E-mail"),
    "bureautique": N_("Bureautique"),
    "reseaux_sociaux_communication": N_("Réseaux sociaux communication"),
    "sante": N_("Santé"),
    "banque_et_achats_en_ligne": N_("Banque et achats en ligne"),
    "accompagner_un_professionnel": N_("Accompagner un professionnel"),
    "insertion_professionnelle": N_("Insertion professionnelle"),
    "prevention_en_securite_numerique": N_("Prévention en sécurité numérique"),
    "parentalite": N_("Parentalité"),
    "scolarite_et_numerique": N_("Scolarité et numérique"),
    "creer_avec_le_numerique": N_("Créer avec le numérique"),
    "culture_numerique": N_("Culture numérique"),
    "intelligence_artificielle": N_("Intelligence artificielle"),
    "aide_aux_demarches_administratives": N_("Aide aux démarches administratives"),
}
PLACE_TYPES = {
    "lieu_activite": N_("Lieu d'activité"),
    "domicile": N_("À domicile"),
    "a_distance": N_("À distance"),
    "autre": N_("Autre"),
}
AUTONOMY = {
    "avec_guidage": N_("Avec guidage"),
    "partiellement_autonome": N_("Partiellement autonome"),
    "autonome": N_("Autonome"),
}
STATUSES = {
    "planned": N_("Prévue"),
    "done": N_("Réalisée"),
    "missed": N_("Absence"),
    "cancelled": N_("Annulée"),
}
# How the reason of a session cancelled by its loan's closing begins (loans/repairs.py).
CLOSED_LOAN = "Prêt clôturé"
DEFAULT_FOLLOWUPS = [{"label": "prise en main", "days": 7}, {"label": "usages", "days": 30}]


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


@dataclass
class SessionRecord:
    status: str
    held_on: date | None = None
    mediator: str = ""
    place_type: str = ""
    duration_minutes: int = 0
    themes: list[str] = field(default_factory=list)
    autonomy: str = ""
    notes: str = ""
    # A collective workshop: the participants (borrower ids) who came; empty for one person.
    attended: list[int] = field(default_factory=list)


def _check(record: SessionRecord) -> None:
    if record.status not in STATUSES or record.status == "planned":
        raise Invalid("Statut attendu : done (réalisée), missed (absence) ou cancelled (annulée).")
    if record.status == "done":
        if record.held_on is None:
            raise Invalid("Indiquez la date de la séance.")
        if record.place_type not in PLACE_TYPES:
            raise Invalid(f"Type de lieu attendu : {', '.join(PLACE_TYPES)}.")
        if not 1 <= record.duration_minutes <= 600:
            raise Invalid("La durée d'une séance va de 1 à 600 minutes.")
        if not record.themes:
            raise Invalid("Choisissez au moins une thématique.")
        if record.autonomy not in AUTONOMY:
            raise Invalid(f"Niveau d'autonomie attendu : {', '.join(AUTONOMY)}.")
    unknown = [t for t in record.themes if t not in THEMES]
    if unknown or len(set(record.themes)) != len(record.themes):
        raise Invalid(f"Thématiques inconnues ou répétées : {', '.join(unknown) or 'doublon'}.")
    if len(record.notes) > 1000:
        raise Invalid("Les notes d'une séance tiennent en 1000 caractères.")


async def record_session(session_id: int, record: SessionRecord, actor: str) -> dict[str, Any]:
    """Record what happened at a planned session (done, missed or cancelled), with its event."""
    _check(record)
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
                MediationSession.status: record.status,
                MediationSession.held_on: record.held_on,
                MediationSession.mediator: record.mediator or row["mediator"] or actor,
                MediationSession.place_type: record.place_type,
                MediationSession.duration_minutes: record.duration_minutes,
                MediationSession.themes: record.themes,
                MediationSession.autonomy: record.autonomy,
                MediationSession.notes: record.notes.strip(),
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
                "status": record.status,
                "themes": record.themes,
                "duration_minutes": record.duration_minutes,
                **({"attended": attended} if row["collective"] else {}),
                **({"after_loan_closed": True} if after_closing else {}),
            },
            loan_id=row["loan"],
        )
    return await get_session(session_id)


async def create_workshop(
    planned_on: date, mediator: str, label: str, borrower_ids: list[int], actor: str
) -> dict[str, Any]:
    """A collective workshop with several borrowers."""
    if not borrower_ids or len(borrower_ids) > 100:
        raise Invalid("Un atelier collectif réunit de 1 à 100 emprunteurs.")
    found = await Borrower.count().where(Borrower.id.is_in(borrower_ids))
    if found != len(set(borrower_ids)):
        raise NotFound("Un des emprunteurs de l'atelier est inconnu.")
    async with write_transaction(MediationSession):
        rows = await MediationSession.insert(
            MediationSession(
                planned_on=planned_on,
                mediator=mediator or actor,
                label=(label or "atelier collectif").strip()[:120],
                status="planned",
                collective=True,
            )
        ).returning(MediationSession.id)
        session_id = rows[0]["id"]
        for borrower_id in sorted(set(borrower_ids)):
            await SessionAttendee.insert(SessionAttendee(session=session_id, borrower=borrower_id))
        await write_event(
            None,
            actor,
            "session_planned",
            None,
            None,
            {"session_id": session_id, "participants": len(set(borrower_ids))},
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
            MediationSession.all_columns(),
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
            raise Invalid("La présence ne se note que pour un atelier collectif.")
        return []
    registered = {
        a["borrower"]
        for a in await SessionAttendee.select(SessionAttendee.borrower).where(
            SessionAttendee.session == session_id
        )
    }
    if not set(record.attended) <= registered:
        raise Invalid("Une personne notée présente n'est pas inscrite à cet atelier.")
    if record.status == "done" and not record.attended:
        # Without a list (the API before attendance existed), everyone registered came.
        return sorted(registered)
    return sorted(set(record.attended))


async def correct_session(session_id: int, record: SessionRecord, actor: str) -> dict[str, Any]:
    """Correct a recorded session: the row takes the new values and a `session_corrected`
    event keeps what changed (old and new values; notes are personal, only flagged)."""
    _check(record)
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
        new = {
            "status": record.status,
            "held_on": record.held_on,
            "mediator": record.mediator or row["mediator"] or actor,
            "place_type": record.place_type,
            "duration_minutes": record.duration_minutes,
            "themes": record.themes,
            "autonomy": record.autonomy,
            "notes": record.notes.strip(),
        }
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
        values = {getattr(MediationSession, key): value for key, value in new.items()}
        # The closing's reason no longer holds once the session is said to have happened.
        if record.status != "cancelled":
            values[MediationSession.cancel_reason] = ""
        await MediationSession.update(values).where(MediationSession.id == session_id)
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


async def add_session(
    borrower_id: int, loan_id: int | None, label: str, record: SessionRecord, actor: str
) -> dict[str, Any]:
    """A session that was not planned (someone came by), recorded at once."""
    _check(record)
    if record.attended:
        raise Invalid("La présence ne se note que pour un atelier collectif.")
    async with write_transaction(MediationSession):
        borrower = await Borrower.select(Borrower.id).where(Borrower.id == borrower_id).first()
        if borrower is None:
            raise NotFound("Emprunteur inconnu.")
        if loan_id is not None:
            loan = await Loan.select(Loan.borrower).where(Loan.id == loan_id).first()
            if loan is None:
                raise NotFound(f"Prêt n° {loan_id} inconnu.")
            if loan["borrower"] != borrower_id:
                raise Invalid(f"Le prêt n° {loan_id} n'est pas celui de cet emprunteur.")
        rows = await MediationSession.insert(
            MediationSession(
                loan=loan_id,
                borrower=borrower_id,
                label=(label or "séance non prévue").strip()[:120],
                planned_on=None,
                status=record.status,
                held_on=record.held_on,
                mediator=record.mediator or actor,
                place_type=record.place_type,
                duration_minutes=record.duration_minutes,
                themes=record.themes,
                autonomy=record.autonomy,
                notes=record.notes.strip(),
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
                "status": record.status,
                "themes": record.themes,
                "duration_minutes": record.duration_minutes,
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


async def borrower_ids_by_code(codes: list[str]) -> list[int]:
    """The borrowers named by their codes (B-XXXXXX); refuses naming the unknown codes."""
    wanted = [c.strip().upper() for c in codes if c.strip()]
    if not wanted:
        raise Invalid("Indiquez au moins un code d'emprunteur (B-XXXXXX).")
    rows = await Borrower.select(Borrower.id, Borrower.code).where(
        Borrower.code.is_in(wanted) & Borrower.anonymised_at.is_null()
    )
    found = {r["code"]: r["id"] for r in rows}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise Invalid(f"Codes d'emprunteur inconnus : {', '.join(unknown)}.")
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
            MediationSession.all_columns(),
            MediationSession.borrower.code.as_alias("borrower_code"),
        )
        .where(where)
        .order_by(MediationSession.id, ascending=False)
        .limit(100)
        .output(load_json=True)
    )
    return rows
