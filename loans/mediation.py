"""Mediation sessions with the Coop de la médiation numérique vocabulary, so figures pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid, NotFound
from inventory.states import N_
from loans.tables import Borrower, MediationSession, SessionAttendee

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
        if row["status"] != "planned":
            raise Conflict(
                "Cette séance est déjà enregistrée : une correction est une autre séance."
            )
        await MediationSession.update(
            {
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
