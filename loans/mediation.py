"""Mediation sessions with the Coop de la médiation numérique vocabulary, so figures pool.

One command per operation, used alike by the API, the pages and the tests: `SessionRecord`
(record or correct a session), `UnplannedSessionIn` (a session nobody planned), `WorkshopIn`
(a collective workshop). Answers are `SessionOut` (a session), `RemindersOut` (the daily digest).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from inventory.states import N_
from loans import coop, session_reads, session_rules
from loans.coop import (
    AdminTheme,
    Autonomie,
    Genre,
    Materiel,
    NiveauAtelier,
    StatutSocial,
    StructureDeRedirection,
    Theme,
    TrancheAge,
    TypeLieu,
)
from loans.session_reads import get_session, last_attendance
from loans.session_rules import Outcome
from loans.tables import Borrower, Loan, MediationSession, SessionAttendee

# What other modules read here: the Coop's vocabulary (loans.coop) and the reads
# (loans.session_reads), kept under the names they had before the split.
PlaceType = TypeLieu
Autonomy = Autonomie
SessionOut = session_reads.SessionOut
OverdueLoan = session_reads.OverdueLoan
RemindersOut = session_reads.RemindersOut
THEMES, ADMIN_THEMES, PLACE_TYPES, AUTONOMY = (
    coop.THEMES,
    coop.ADMIN_THEMES,
    coop.PLACE_TYPES,
    coop.AUTONOMY,
)
SESSION_EVENTS = session_reads.SESSION_EVENTS
agenda, recent, session_history = (
    session_reads.agenda,
    session_reads.recent,
    session_reads.session_history,
)
session_out, sessions_out, reminders_out = (
    session_reads.session_out,
    session_reads.sessions_out,
    session_reads.reminders_out,
)


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
Short = Annotated[str, msgspec.Meta(max_length=200)]
Notes = Annotated[str, msgspec.Meta(max_length=1000)]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=600)]
Themes = Annotated[list[Theme], msgspec.Meta(max_length=len(Theme))]
AdminThemes = Annotated[list[AdminTheme], msgspec.Meta(max_length=len(AdminTheme))]
Equipment = Annotated[list[Materiel], msgspec.Meta(max_length=len(Materiel))]
Insee = Annotated[str, msgspec.Meta(max_length=5)]
Ids = Annotated[list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(max_length=100)]
Count = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class SessionRecord(msgspec.Struct, forbid_unknown_fields=True):
    """What happened at a session: recording a planned one, correcting a recorded one, or (with
    `UnplannedSessionIn`) one nobody planned, in the Coop de la médiation numérique's terms.

    The place, commune, duration, themes, equipment and autonomy describe a session held
    (`done`); for a missed or cancelled one they are left empty. The beneficiary's age band,
    gender and status are optional ("non communiqué"); a workshop takes its level and its
    number of participants instead of an autonomy."""

    status: Outcome
    held_on: date | None = None
    # Who held it; empty: the session's planned mediator, else whoever records it.
    mediator: Mediator = ""
    place_type: TypeLieu | None = None
    # The commune of the visit (INSEE code); needed at home or elsewhere, as in the Coop.
    commune_insee: Insee = ""
    duration_minutes: Minutes = 0
    themes: Themes = []
    # The administrative sub-themes, with « Aide aux démarches administratives » only.
    admin_themes: AdminThemes = []
    demarche: Short = ""
    materiel: Equipment = []
    autonomy: Autonomie | None = None
    redirection: StructureDeRedirection | None = None
    # The structure's name or what the person was sent there for.
    redirection_note: Short = ""
    age_band: TrancheAge = TrancheAge.non_communique
    gender: Genre = Genre.non_communique
    social_status: StatutSocial = StatutSocial.non_communique
    # A collective workshop: its level (empty: the planned one) and how many came in all.
    level: NiveauAtelier | None = None
    participants: Count = 0
    notes: Notes = ""
    # A collective workshop: the participants (borrower ids) who came; empty for one person.
    attended: Ids = []

    field_labels: ClassVar[dict[str, str]] = {
        "status": "Statut",
        "held_on": "Date de la séance",
        "mediator": "Médiateur",
        "place_type": "Type de lieu",
        "commune_insee": "Commune",
        "duration_minutes": "Durée",
        "themes": "Thématiques",
        "admin_themes": "Démarches administratives",
        "demarche": "Nom de la démarche administrative",
        "materiel": "Matériel numérique utilisé",
        "autonomy": "Niveau d'autonomie",
        "redirection": "Structure de redirection",
        "redirection_note": "Précision sur la redirection",
        "age_band": "Tranche d'âge",
        "gender": "Genre",
        "social_status": "Statut du bénéficiaire",
        "level": "Niveau de l'atelier",
        "participants": "Nombre de participants",
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
    """A collective workshop planned for several borrowers; its label is the workshop's name
    (the Coop's « Nom de l’atelier »)."""

    planned_on: date
    borrower_ids: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(min_length=1, max_length=100)
    ]
    label: Label = ""
    mediator: Mediator = ""
    level: NiveauAtelier | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "planned_on": "Date de l'atelier",
        "borrower_ids": "Participants",
        "label": "Nom de l'atelier",
        "mediator": "Médiateur",
        "level": "Niveau de l'atelier",
    }


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


def _mediator(record: SessionRecord, row: dict[str, Any] | None, actor: str) -> str:
    """Who held the session: the one named, else the one it was planned for, else the actor."""
    return record.mediator.strip() or (row["mediator"] if row else "") or actor


async def record_session(session_id: int, record: SessionRecord, actor: str) -> dict[str, Any]:
    """Record what happened at a planned session (done, missed or cancelled), with its event."""
    async with write_transaction(MediationSession):
        row = await MediationSession.select().where(MediationSession.id == session_id).first()
        if row is None:
            raise NotFound(f"Séance {session_id} inconnue.")
        values = session_rules.values_of(record, row["collective"])
        # A session cancelled only because its loan closed may still take place: it is recorded.
        after_closing = row["status"] == "cancelled" and row["cancel_reason"].startswith(
            CLOSED_LOAN
        )
        if row["status"] != "planned" and not after_closing:
            raise Conflict("Cette séance est déjà enregistrée : corrigez-la depuis sa page.")
        attended = await _attended(session_id, row, record)
        session_rules.workshop_values(values, row, attended)
        await MediationSession.update(
            {
                MediationSession.cancel_reason: "" if after_closing else row["cancel_reason"],
                MediationSession.mediator: _mediator(record, row, actor),
                **{getattr(MediationSession, key): value for key, value in values.items()},
            }
        ).where(MediationSession.id == session_id)
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
                level=str(command.level or ""),
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
            {
                "session_id": session_id,
                "participants": len(borrower_ids),
                **({"level": str(command.level)} if command.level else {}),
            },
        )
    return await get_session(session_id)


# What a correction may change, in the order the history lists them.
CORRECTABLE = (
    "status",
    "held_on",
    "mediator",
    "place_type",
    "commune_insee",
    "duration_minutes",
    "themes",
    "admin_themes",
    "demarche",
    "materiel",
    "autonomy",
    "redirection",
    "redirection_note",
    "age_band",
    "gender",
    "social_status",
    "level",
    "participants",
    "notes",
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
        values = session_rules.values_of(record, row["collective"])
        attended = await _attended(session_id, row, record)
        session_rules.workshop_values(values, row, attended)
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
        if row["collective"]:
            before = await last_attendance(session_id)
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
    values = session_rules.values_of(command, collective=False)
    values["level"] = ""
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
