"""A period's mediation activities in the Coop de la médiation numérique's own export format.

Same columns, order and labels as the Coop's activities export (`buildAccompagnementsWorksheet`
in inclusion-numerique/coop-mediation-numerique, commit 46aa33bdf21c42c2d5bbb2913f5c453cca5a9542,
as a coordinator exports a team's activities: no beneficiary names, no notes), one row per
person accompanied: a workshop of 8 gives rows "1/8" … "8/8". XLSX and CSV carry the same cells.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from inventory.errors import Invalid
from inventory.tables import Event
from loans import communes, coop
from loans.reports.cells import safe_row
from loans.session_reads import SESSION_EVENTS, activity_type, last_attendance
from loans.tables import Borrower, MediationSession, SessionAttendee

# The Coop's headers (isSelfExport false, hasCraV1 false), typographic apostrophes included.
HEADERS = [
    "Date",
    "Enregistré le",
    "Dernière modification le",
    "Prénom du médiateur",
    "Nom du médiateur",
    "Rôle",
    "ID - Conum",
    "Type",
    "Participants",
    "Canaux d’accompagnement",
    "Nom du lieu",
    "Adresse",
    "Commune",
    "Code postal",
    "Code Insee",
    "Durée (min)",
    "Nom de l’atelier",
    "Matériel numérique utilisé",
    "Thématique(s) d’accompagnement",
    "Tags",
    "Nom de la démarche administrative",
    "Niveau d’autonomie (ou de l’atelier)",
    "Bénéficiaire réorienté",
    "Structure de redirection",
    "Commune du bénéficiaire",
    "Code postal du bénéficiaire",
    "Code Insee du bénéficiaire",
    "Genre du bénéficiaire",
    "Tranche d’âge du bénéficiaire",
    "Statut du bénéficiaire",
    "ID CRA",
]
FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# Several values in one cell are on separate lines, as in the Coop's workbook.
LINE = "\n"
PARIS = ZoneInfo("Europe/Paris")
MAX_DAYS = 3660


@dataclass(frozen=True)
class Activities:
    """The export's rows (cells in the header's order) for a period."""

    start: date
    end: date
    rows: list[list[Any]]


def _stamp(at: datetime | None) -> str:
    """The Coop's "dd/MM/yyyy 'à' HH:mm", in French time."""
    return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if at else ""


def _place(insee: str) -> tuple[str, str, str]:
    """(commune, postcode, INSEE code) of a code, as the Coop's columns show them."""
    commune = communes.by_insee(insee) if insee else None
    if commune is None:
        return "", "", insee or ""
    return commune.name, commune.postcodes[0] if commune.postcodes else "", commune.insee


def _mediator(name: str) -> tuple[str, str]:
    """First and last name of the mediator as typed ("Camille Martin"); one word is a name."""
    first, _, last = name.strip().partition(" ")
    return (first, last.strip()) if last.strip() else ("", first)


def _stars(session: dict[str, Any]) -> str:
    """The autonomy (one person) or the workshop's level, as stars out of 3 like the Coop."""
    if session["autonomy"] in coop.AUTONOMY_STARS:
        return f"{coop.AUTONOMY_STARS[coop.Autonomie(session['autonomy'])]}/3"
    if session["level"] in coop.LEVEL_STARS:
        return f"{coop.LEVEL_STARS[coop.NiveauAtelier(session['level'])]}/3"
    return ""


def _labels(codes: list[str], labels: dict[str, str]) -> str:
    return LINE.join(labels.get(code, code) for code in codes)


async def _stamps(ids: set[int]) -> dict[int, tuple[datetime, datetime]]:
    """When each session was recorded and last changed, from its events."""
    events = await (
        Event.select(Event.at, Event.kind, Event.payload)
        .where(Event.kind.is_in([k for k in SESSION_EVENTS if k != "session_planned"]))
        .order_by(Event.id)
        .output(load_json=True)
    )
    stamps: dict[int, tuple[datetime, datetime]] = {}
    for event in events:
        session_id = (event["payload"] or {}).get("session_id")
        if session_id not in ids:
            continue
        first = stamps[session_id][0] if session_id in stamps else event["at"]
        stamps[session_id] = (first, event["at"])
    return stamps


def _row(session: dict[str, Any], stamps: tuple[datetime, datetime] | None) -> list[Any]:
    """The cells of one activity, up to the beneficiary's columns."""
    created, modified = stamps or (None, None)
    first, last = _mediator(session["mediator"])
    commune, postcode, insee = _place(session["commune_insee"])
    redirected = session["redirection"]
    return [
        session["held_on"],
        _stamp(created),
        "" if created == modified else _stamp(modified),
        first,
        last,
        "Médiateur",
        "",
        coop.TYPE_ACTIVITE[activity_type(session)],
        None,
        coop.PLACE_TYPES.get(session["place_type"], session["place_type"]),
        "",
        "",
        commune,
        postcode,
        insee,
        session["duration_minutes"],
        session["label"] if session["collective"] else "",
        _labels(session["materiel"] or [], coop.MATERIEL),
        _labels([*(session["themes"] or []), *(session["admin_themes"] or [])], coop.THEMATIQUES),
        "",
        session["demarche"],
        _stars(session),
        "" if session["collective"] else ("Oui" if redirected else "Non"),
        coop.REDIRECTIONS.get(redirected, "") if redirected else "",
    ]


def _person(borrower: dict[str, Any] | None, session: dict[str, Any] | None) -> list[Any]:
    """The beneficiary's columns: their commune (a borrower's), gender, age band, status."""
    commune, postcode, insee = _place(borrower["insee_code"]) if borrower else ("", "", "")
    if borrower and not commune:
        commune = borrower["commune"]
    age = session["age_band"] if session else coop.TrancheAge.non_communique
    gender = session["gender"] if session else coop.Genre.non_communique
    status = session["social_status"] if session else coop.StatutSocial.non_communique
    return [
        commune,
        postcode,
        insee,
        coop.GENDERS.get(gender, coop.GENDERS[coop.Genre.non_communique]),
        coop.AGE_BANDS.get(age, coop.AGE_BANDS[coop.TrancheAge.non_communique]),
        coop.SOCIAL_STATUSES.get(status, coop.SOCIAL_STATUSES[coop.StatutSocial.non_communique]),
    ]


async def activities(start: date, end: date) -> Activities:
    """The sessions held between `start` and `end` (included), one row per person."""
    if end < start:
        raise Invalid("La fin de la période précède son début.")
    if (end - start).days > MAX_DAYS:
        raise Invalid("Une période de dix ans au plus.")
    sessions = await (
        MediationSession.select()
        .where(
            (MediationSession.status == "done")
            & (MediationSession.held_on >= start)
            & (MediationSession.held_on <= end)
        )
        .order_by(MediationSession.held_on)
        .order_by(MediationSession.id)
        .output(load_json=True)
    )
    ids = {s["id"] for s in sessions}
    attendees: dict[int, list[int]] = {}
    if ids:
        for a in await SessionAttendee.select().where(SessionAttendee.session.is_in(sorted(ids))):
            attendees.setdefault(a["session"], []).append(a["borrower"])
    stamps = await _stamps(ids)
    people = {s["borrower"] for s in sessions if s["borrower"]}
    people |= {b for found in attendees.values() for b in found}
    borrowers = {
        b["id"]: b
        for b in (
            await Borrower.select(Borrower.id, Borrower.commune, Borrower.insee_code).where(
                Borrower.id.is_in(sorted(people))
            )
            if people
            else []
        )
    }
    rows: list[list[Any]] = []
    for session in sessions:
        cells = _row(session, stamps.get(session["id"]))
        if not session["collective"]:
            cells[8] = 1
            rows.append(
                [*cells, *_person(borrowers.get(session["borrower"]), session), session["id"]]
            )
            continue
        # Who came: the registered borrowers noted present first, then the others, anonymous.
        came = await _came(session["id"], attendees.get(session["id"], []))
        total = max(session["participants"], len(came), 1)
        for index in range(total):
            who = borrowers.get(came[index]) if index < len(came) else None
            number = 1 if total == 1 else f"{index + 1}/{total}"
            rows.append([*cells[:8], number, *cells[9:], *_person(who, None), session["id"]])
    return Activities(start, end, rows)


async def _came(session_id: int, registered: list[int]) -> list[int]:
    """The registered participants noted present at a workshop (the latest word)."""
    present = await last_attendance(session_id)
    return [b for b in sorted(registered) if b in present]


def to_csv(export: Activities) -> bytes:
    """CSV (semicolons, UTF-8 with BOM, as the funder report) with the XLSX's cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in export.rows:
        cells = [v.strftime("%d/%m/%Y") if isinstance(v, date) else v for v in row]
        writer.writerow(safe_row(cells))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(export: Activities) -> bytes:
    """A workbook whose sheet "Activités" holds the header row then one row per person."""
    # openpyxl is heavy and only this format needs it: imported when a workbook is asked for.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "Activités"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in export.rows:
        sheet.append(safe_row(row))
        sheet.cell(sheet.max_row, 1).number_format = "dd/mm/yyyy"
        for cell in sheet[sheet.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(export: Activities, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise Invalid(f"Format attendu : {', '.join(FORMATS)}.")
    return to_xlsx(export) if fmt == "xlsx" else to_csv(export)


def filename(export: Activities, fmt: str) -> str:
    return f"activites-coop-{export.start.isoformat()}-{export.end.isoformat()}.{fmt}"
