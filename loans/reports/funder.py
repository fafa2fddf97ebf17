"""The funder report: SQL aggregates over one programme (or all) and a period, anonymised.

Every figure is computed by the database (COUNT, SUM, GROUP BY, scalar subqueries): no Python loop
walks rows, so a year of a large workshop is a handful of queries. The same SQL runs on SQLite and
PostgreSQL; only the JSON array expansion of the session themes differs.

Counts about people (loans, households, children, organisations, sessions…) from 1 to N-1, N being
the threshold (REEMPLOI_REPORT_THRESHOLD, default 5), are shown as "< N"; zero stays zero. Device
counts of the workshop are not about people and are shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

from inventory.clock import now
from inventory.config import settings
from inventory.errors import Invalid, NotFound
from inventory.states import DonorKind
from inventory.tables import Event
from loans.mediation import AUTONOMY, THEMES
from loans.reports import impact
from loans.tables import Programme

DEFAULT_THRESHOLD = 5
DONOR_KIND_LABELS = {
    "company": "Entreprises",
    "public_body": "Collectivités et services publics",
    "school": "Établissements scolaires",
    "association": "Associations",
    "individual": "Particuliers",
}
SCHOOL_KINDS = ("school", "college")
DEFINITIONS = (
    "Définitions : les appareils collectés sont ceux des dons reçus dans la période (toute "
    "l'activité de l'atelier, quel que soit le programme) ; les foyers, enfants, organisations, "
    "établissements et communes sont ceux des emprunteurs ayant un prêt en cours à un moment de "
    "la période ; les prêts en cours sont comptés au dernier jour ; le taux de perte rapporte les "
    "appareils perdus ou volés dans la période aux appareils prêtés à un moment de la période ; "
    "les heures de médiation sont celles des séances réalisées. Les dates sont comptées en temps "
    "universel (UTC)."
)


def default_threshold() -> int:
    """The threshold of statistical secrecy: REEMPLOI_REPORT_THRESHOLD, read by the settings."""
    return settings().report_threshold


def fmt(value: int | Decimal) -> str:
    """French display of a figure: integers as is, decimals with one digit and a comma."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)).replace(".", ",")
    return str(value)


@dataclass
class Row:
    key: str
    label: str
    value: int | Decimal | None  # None when suppressed
    display: str
    unit: str = ""


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class FunderReport:
    programme: str
    funder: str
    start: date
    end: date
    threshold: int
    generated_at: datetime
    sections: list[Section]
    impact: dict[str, Any]

    def rows(self) -> list[tuple[Section, Row]]:
        return [(section, row) for section in self.sections for row in section.rows]

    def value(self, key: str) -> str:
        for _, row in self.rows():
            if row.key == key:
                return row.display
        raise KeyError(key)


class _Query:
    """Collects the arguments of a raw query in order; `p` returns Piccolo's placeholder."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def p(self, value: Any) -> str:
        self.args.append(value)
        return "{}"


def check_period(start: date, end: date) -> None:
    if end < start:
        raise Invalid("La fin de la période précède son début.")
    if start.year < 1990 or end.year > 2200:
        raise Invalid("Une période de rapport se situe entre 1990 et 2200.")
    if (end - start).days > 3660:
        raise Invalid("Une période de rapport dure au plus dix ans.")


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as UTC instants: from `start` 00:00 to the day after `end` 00:00 (excluded)."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def _is_postgres() -> bool:
    return isinstance(engine_finder(), PostgresEngine)


async def _raw(q: _Query, sql: str) -> list[dict[str, Any]]:
    return await Event.raw(sql, *q.args)


async def _scalars(start: date, end: date, programme_id: int | None) -> dict[str, int]:
    s, e = _bounds(start, end)
    q = _Query()
    prog = f" AND l.programme = {int(programme_id)}" if programme_id is not None else ""
    prog_s = f" AND ms.programme = {int(programme_id)}" if programme_id is not None else ""

    def reached() -> str:
        return (
            f"SELECT l.borrower FROM loan l WHERE l.opened_at < {q.p(e)}"
            f" AND (l.closed_at IS NULL OR l.closed_at >= {q.p(s)}){prog}"
        )

    def sessions(where: str) -> str:
        return f"SELECT COUNT(*) FROM mediation_session ms WHERE {where}{prog_s}"

    parts = {
        "sanitized_clear": "SELECT COUNT(*) FROM sanitization_record WHERE status = 'passed'"
        f" AND method_type = 'clear' AND finished_at >= {q.p(s)} AND finished_at < {q.p(e)}",
        "sanitized_purge": "SELECT COUNT(*) FROM sanitization_record WHERE status = 'passed'"
        f" AND method_type = 'purge' AND finished_at >= {q.p(s)} AND finished_at < {q.p(e)}",
        "imaged": "SELECT COUNT(*) FROM event WHERE kind = 'image_verified'"
        f" AND at >= {q.p(s)} AND at < {q.p(e)}",
        "loans_new": f"SELECT COUNT(*) FROM loan l WHERE l.opened_at >= {q.p(s)}"
        f" AND l.opened_at < {q.p(e)}{prog}",
        "devices_lent": "SELECT COUNT(*) FROM loan_device ld JOIN loan l ON ld.loan = l.id"
        f" WHERE ld.out_at >= {q.p(s)} AND ld.out_at < {q.p(e)}{prog}",
        "laptops_lent": "SELECT COUNT(*) FROM loan_device ld JOIN loan l ON ld.loan = l.id"
        " JOIN device d ON ld.device = d.id WHERE d.kind = 'laptop'"
        f" AND ld.out_at >= {q.p(s)} AND ld.out_at < {q.p(e)}{prog}",
        "loans_active_end": f"SELECT COUNT(*) FROM loan l WHERE l.opened_at < {q.p(e)}"
        f" AND (l.closed_at IS NULL OR l.closed_at >= {q.p(e)}){prog}",
        "on_loan_during": "SELECT COUNT(*) FROM loan_device ld JOIN loan l ON ld.loan = l.id"
        f" WHERE ld.out_at < {q.p(e)} AND (ld.returned_at IS NULL OR ld.returned_at >= {q.p(s)})"
        f"{prog}",
        "repaired": "SELECT COUNT(*) FROM repair_ticket t LEFT JOIN loan l ON t.loan = l.id"
        " WHERE t.outcome IN ('repaired', 'swapped')"
        f" AND t.closed_at >= {q.p(s)} AND t.closed_at < {q.p(e)}{prog}",
    }
    for key, reasons in (("returned", "'end'"), ("lost", "'lost'"), ("stolen", "'stolen'")):
        parts[key] = (
            "SELECT COUNT(*) FROM device_return r JOIN loan l ON r.loan = l.id"
            f" WHERE r.reason IN ({reasons}) AND r.at >= {q.p(s)} AND r.at < {q.p(e)}{prog}"
        )
    parts["households"] = (
        f"SELECT COUNT(*) FROM borrower b WHERE b.kind = 'household' AND b.id IN ({reached()})"
    )
    parts["children"] = (
        "SELECT COALESCE(SUM(b.children_count), 0) FROM borrower b"
        f" WHERE b.kind = 'household' AND b.id IN ({reached()})"
    )
    parts["qpv"] = (
        "SELECT COALESCE(SUM(CASE WHEN b.qpv_resident THEN 1 ELSE 0 END), 0) FROM borrower b"
        f" WHERE b.kind = 'household' AND b.id IN ({reached()})"
    )
    parts["organisations"] = (
        f"SELECT COUNT(*) FROM borrower b WHERE b.kind = 'organisation' AND b.id IN ({reached()})"
    )
    kinds = ", ".join(f"'{k}'" for k in SCHOOL_KINDS)
    parts["schools"] = (
        f"SELECT COUNT(*) FROM organisation o WHERE o.kind IN ({kinds}) AND ("
        f"o.id IN (SELECT b.school FROM borrower b WHERE b.id IN ({reached()}))"
        f" OR o.id IN (SELECT b.organisation FROM borrower b WHERE b.id IN ({reached()})))"
    )
    parts["communes"] = (
        "SELECT COUNT(DISTINCT b.insee_code) FROM borrower b"
        f" WHERE b.insee_code <> '' AND b.id IN ({reached()})"
    )
    parts["sessions_planned"] = sessions(
        f"ms.planned_on >= {q.p(start)} AND ms.planned_on <= {q.p(end)}"
    )
    parts["sessions_done"] = sessions(
        f"ms.status = 'done' AND ms.held_on >= {q.p(start)} AND ms.held_on <= {q.p(end)}"
    )
    parts["sessions_missed"] = sessions(
        f"ms.status = 'missed' AND COALESCE(ms.held_on, ms.planned_on) >= {q.p(start)}"
        f" AND COALESCE(ms.held_on, ms.planned_on) <= {q.p(end)}"
    )
    parts["minutes"] = (
        "SELECT COALESCE(SUM(ms.duration_minutes), 0) FROM mediation_session ms"
        f" WHERE ms.status = 'done' AND ms.held_on >= {q.p(start)} AND ms.held_on <= {q.p(end)}"
        f"{prog_s}"
    )
    sql = "SELECT " + ", ".join(f"({sub}) AS {key}" for key, sub in parts.items())
    row = (await _raw(q, sql))[0]
    return {key: int(row[key] or 0) for key in parts}


async def _grouped(start: date, end: date, programme_id: int | None) -> dict[str, dict[str, int]]:
    prog_s = f" AND ms.programme = {int(programme_id)}" if programme_id is not None else ""
    q = _Query()
    collected = await _raw(
        q,
        "SELECT dn.kind AS k, COUNT(*) AS n FROM device d JOIN donation o ON d.donation = o.id"
        f" JOIN donor dn ON o.donor = dn.id WHERE o.received_on >= {q.p(start)}"
        f" AND o.received_on <= {q.p(end)} GROUP BY dn.kind",
    )
    done = f"ms.status = 'done' AND ms.held_on >= {{}} AND ms.held_on <= {{}}{prog_s}"
    expand = (
        "json_array_elements_text(ms.themes::json) AS j(value)"
        if _is_postgres()
        else "json_each(ms.themes) AS j"
    )
    q = _Query()
    q.args = [start, end]
    themes = await _raw(
        q,
        f"SELECT j.value AS k, COUNT(*) AS n FROM mediation_session ms, {expand}"
        f" WHERE {done} GROUP BY j.value",
    )
    autonomy = await _raw(
        q,
        "SELECT ms.autonomy AS k, COUNT(*) AS n FROM mediation_session ms"
        f" WHERE {done} GROUP BY ms.autonomy",
    )
    return {
        name: {str(r["k"]): int(r["n"]) for r in rows}
        for name, rows in (("collected", collected), ("themes", themes), ("autonomy", autonomy))
    }


class _Anonymiser:
    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def small(self, n: int) -> bool:
        return 0 < n < self.threshold

    def count(self, key: str, label: str, n: int, sensitive: bool = True) -> Row:
        if sensitive and self.small(n):
            return Row(key, label, None, f"< {self.threshold}")
        return Row(key, label, n, fmt(n))

    def ratio(self, key: str, label: str, part: int, whole: int, hidden: bool) -> Row:
        if hidden or self.small(part):
            return Row(key, label, None, "—", "%")
        if whole == 0:
            return Row(key, label, None, "—", "%")
        value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        return Row(key, label, value, fmt(value), "%")


async def programme_label(programme_id: int | None) -> tuple[str, str]:
    if programme_id is None:
        return "Tous les programmes", ""
    row = (
        await Programme.select(Programme.name, Programme.funder)
        .where(Programme.id == programme_id)
        .first()
    )
    if row is None:
        raise NotFound(f"Programme {programme_id} inconnu.")
    return row["name"], row["funder"]


async def funder_report(
    programme_id: int | None, start: date, end: date, *, threshold: int | None = None
) -> FunderReport:
    """The anonymised figures of a programme (None: all) from `start` to `end` included."""
    check_period(start, end)
    threshold = threshold or default_threshold()
    name, funder = await programme_label(programme_id)
    n = await _scalars(start, end, programme_id)
    groups = await _grouped(start, end, programme_id)
    a = _Anonymiser(threshold)

    collected = groups["collected"]
    workshop = Section("workshop", "Atelier : appareils collectés et préparés (toute l'activité)")
    workshop.rows.append(
        a.count("collected_total", "Appareils collectés", sum(collected.values()), False)
    )
    for kind in DonorKind:
        label = f"Collectés : {DONOR_KIND_LABELS[kind.value]}"
        workshop.rows.append(
            a.count(f"collected_{kind.value}", label, collected.get(kind, 0), False)
        )
    workshop.rows += [
        a.count(
            "sanitized_clear",
            "Disques effacés : Clear (NIST SP 800-88)",
            n["sanitized_clear"],
            False,
        ),
        a.count(
            "sanitized_purge",
            "Disques effacés : Purge (NIST SP 800-88)",
            n["sanitized_purge"],
            False,
        ),
        a.count("imaged", "Appareils installés (image vérifiée)", n["imaged"], False),
    ]
    lost = n["lost"] + n["stolen"]
    loans = Section("loans", "Prêts")
    loans.rows = [
        a.count("loans_new", "Nouveaux prêts", n["loans_new"]),
        a.count("devices_lent", "Appareils prêtés", n["devices_lent"], False),
        a.count("loans_active_end", "Prêts en cours en fin de période", n["loans_active_end"]),
        a.count("devices_returned", "Appareils rendus en fin de prêt", n["returned"], False),
        a.count("devices_repaired", "Appareils réparés", n["repaired"], False),
        a.count("devices_lost", "Appareils perdus", n["lost"]),
        a.count("devices_stolen", "Appareils volés", n["stolen"]),
        a.ratio("loss_rate", "Taux de perte ou de vol", lost, n["on_loan_during"], False),
    ]
    people = Section("people", "Publics touchés")
    households_hidden = a.small(n["households"])
    people.rows = [
        a.count("households", "Foyers équipés", n["households"]),
        a.count("children", "Enfants dans ces foyers", n["children"]),
        a.count("organisations", "Organisations emprunteuses", n["organisations"]),
        a.count("schools", "Établissements scolaires", n["schools"]),
        a.count("communes", "Communes", n["communes"]),
        a.ratio(
            "qpv_share", "Part des foyers en QPV", n["qpv"], n["households"], households_hidden
        ),
    ]
    hours = Decimal(n["minutes"]) / 60
    sessions = Section("sessions", "Médiation numérique")
    sessions.rows = [
        a.count("sessions_planned", "Séances prévues", n["sessions_planned"]),
        a.count("sessions_done", "Séances réalisées", n["sessions_done"]),
        a.count("sessions_missed", "Absences", n["sessions_missed"]),
        Row("mediation_hours", "Heures de médiation", hours, fmt(hours), "h")
        if not a.small(n["sessions_done"])
        else Row("mediation_hours", "Heures de médiation", None, f"< {threshold}", "h"),
    ]
    themes = Section("themes", "Thématiques des séances réalisées")
    ordered = sorted(groups["themes"].items(), key=lambda item: (-item[1], item[0]))
    themes.rows = [a.count(f"theme_{k}", THEMES.get(k, k), v) for k, v in ordered]
    autonomy = Section("autonomy", "Autonomie atteinte (séances réalisées)")
    autonomy.rows = [
        a.count(f"autonomy_{k}", label, groups["autonomy"].get(k, 0))
        for k, label in AUTONOMY.items()
    ]
    avoided = impact.avoided(n["laptops_lent"])
    environment = Section("impact", "Impact environnemental (ADEME)")
    environment.rows = [
        a.count(
            "laptops_lent", "Ordinateurs portables reconditionnés prêtés", n["laptops_lent"], False
        ),
        Row(
            "co2e_avoided",
            "Émissions évitées (kg CO2e)",
            avoided["co2e_kg"],
            fmt(avoided["co2e_kg"]),
            "kg",
        ),
        Row(
            "raw_materials_avoided",
            "Matières premières préservées (kg)",
            avoided["raw_materials_kg"],
            fmt(avoided["raw_materials_kg"]),
            "kg",
        ),
        Row(
            "ewaste_avoided",
            "Déchets électroniques évités (kg)",
            avoided["ewaste_kg"],
            fmt(avoided["ewaste_kg"]),
            "kg",
        ),
    ]
    return FunderReport(
        programme=name,
        funder=funder,
        start=start,
        end=end,
        threshold=threshold,
        generated_at=now(),
        sections=[workshop, loans, people, sessions, themes, autonomy, environment],
        impact=impact.figures(),
    )


class RowOut(msgspec.Struct):
    key: str
    label: str
    display: str
    unit: str


class SectionOut(msgspec.Struct):
    key: str
    title: str
    rows: list[RowOut]


class FunderReportOut(msgspec.Struct):
    """The funder report as the API answers it: the same strings as every other output."""

    programme: str
    funder: str
    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    threshold: int = 0
    sections: list[SectionOut] = []
    sources: dict[str, Any] = {}


def report_out(report: FunderReport) -> FunderReportOut:
    return FunderReportOut(
        programme=report.programme,
        funder=report.funder,
        start=report.start,
        end=report.end,
        threshold=report.threshold,
        sections=[
            SectionOut(
                key=s.key,
                title=s.title,
                rows=[
                    RowOut(key=r.key, label=r.label, display=r.display, unit=r.unit) for r in s.rows
                ],
            )
            for s in report.sections
        ],
        sources=report.impact,
    )
