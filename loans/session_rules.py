"""The rules of a session's record: what a session held, missed or cancelled stores, in the
Coop de la médiation numérique's codes (plain strings), or the field at fault."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from inventory.commands import checked
from inventory.errors import FieldInvalid
from loans import communes
from loans.coop import AUTONOMY, PLACE_TYPES, Genre, StatutSocial, Theme, TrancheAge, TypeLieu

if TYPE_CHECKING:
    from loans.mediation import SessionRecord


class Outcome(StrEnum):
    """What a recorded session became (a planned session is not an outcome)."""

    done = "done"
    missed = "missed"
    cancelled = "cancelled"


NOT_HELD: dict[str, Any] = {
    "held_on": None,
    "place_type": "",
    "commune_insee": "",
    "duration_minutes": 0,
    "themes": [],
    "admin_themes": [],
    "demarche": "",
    "materiel": [],
    "autonomy": "",
    "redirection": "",
    "redirection_note": "",
    "age_band": TrancheAge.non_communique.value,
    "gender": Genre.non_communique.value,
    "social_status": StatutSocial.non_communique.value,
    "participants": 0,
}
ADMINISTRATIVE = Theme.aide_aux_demarches_administratives


def _once(field: str, values: list[str], what: str) -> list[str]:
    if len(set(values)) != len(values):
        raise FieldInvalid(field, f"{what} : une valeur est choisie deux fois.")
    return values


def values_of(record: SessionRecord, collective: bool) -> dict[str, Any]:
    """The record's values as the row stores them (plain strings), or the field at fault.

    The struct is checked again (code may have built it with its constructor); a session held
    needs its date, place, duration, themes and (one person) autonomy; a missed or cancelled one
    keeps none of them, whoever sends them (page or API). `level` None keeps the planned one."""
    record = checked(record)
    themes = _once("themes", [str(t) for t in record.themes], "Thématiques")
    admin = _once("admin_themes", [str(t) for t in record.admin_themes], "Démarches")
    materiel = _once("materiel", [str(m) for m in record.materiel], "Matériel")
    level = str(record.level) if record.level else None
    if not collective and (level or record.participants):
        field = "level" if level else "participants"
        raise FieldInvalid(field, "Le niveau et le nombre de participants sont ceux d'un atelier.")
    if record.status != Outcome.done:
        return {
            **NOT_HELD,
            "status": str(record.status),
            "level": level,
            "notes": record.notes.strip(),
        }
    if record.held_on is None:
        raise FieldInvalid("held_on", "Indiquez la date de la séance.")
    if record.place_type is None:
        raise FieldInvalid("place_type", f"Type de lieu attendu : {', '.join(PLACE_TYPES)}.")
    commune = record.commune_insee.strip().upper()
    if commune and communes.by_insee(commune) is None:
        raise FieldInvalid("commune_insee", f"Commune : code INSEE {commune} inconnu.")
    if not commune and record.place_type in (TypeLieu.domicile, TypeLieu.autre):
        raise FieldInvalid(
            "commune_insee", "Indiquez la commune de la séance (à domicile ou dans un autre lieu)."
        )
    if not 1 <= record.duration_minutes <= 600:
        raise FieldInvalid("duration_minutes", "La durée d'une séance va de 1 à 600 minutes.")
    if not themes:
        raise FieldInvalid("themes", "Choisissez au moins une thématique.")
    if (admin or record.demarche.strip()) and ADMINISTRATIVE not in themes:
        raise FieldInvalid(
            "admin_themes" if admin else "demarche",
            "Les démarches administratives ne se notent qu'avec la thématique « Aide aux "
            "démarches administratives ».",
        )
    if record.autonomy is None and not collective:
        raise FieldInvalid("autonomy", f"Niveau d'autonomie attendu : {', '.join(AUTONOMY)}.")
    if record.redirection_note.strip() and record.redirection is None:
        raise FieldInvalid("redirection", "Choisissez la structure vers laquelle la personne va.")
    described = (record.age_band, record.gender, record.social_status) != (
        TrancheAge.non_communique,
        Genre.non_communique,
        StatutSocial.non_communique,
    )
    if collective and described:
        raise FieldInvalid(
            "age_band", "L'âge, le genre et le statut se notent pour une personne accompagnée."
        )
    return {
        "status": str(record.status),
        "held_on": record.held_on,
        "place_type": str(record.place_type),
        "commune_insee": commune,
        "duration_minutes": record.duration_minutes,
        "themes": themes,
        "admin_themes": admin,
        "demarche": record.demarche.strip(),
        "materiel": materiel,
        "autonomy": str(record.autonomy or ""),
        "redirection": str(record.redirection or ""),
        "redirection_note": record.redirection_note.strip(),
        "age_band": str(record.age_band),
        "gender": str(record.gender),
        "social_status": str(record.social_status),
        "level": level,
        "participants": record.participants,
        "notes": record.notes.strip(),
    }


def workshop_values(values: dict[str, Any], row: dict[str, Any], attended: list[int]) -> None:
    """A workshop keeps its planned level unless told; those who came count, at least."""
    if values["level"] is None:
        values["level"] = row["level"] if row else ""
    if not row or not row["collective"] or values["status"] != Outcome.done:
        return
    if not values["participants"]:
        values["participants"] = len(attended)
    elif values["participants"] < len(attended):
        raise FieldInvalid(
            "participants",
            f"Nombre de participants : au moins les {len(attended)} personnes notées présentes.",
        )
