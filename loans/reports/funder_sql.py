"""The funder report's SQL: every figure is computed by the database (COUNT, SUM, GROUP BY, scalar
subqueries), so a year of a large workshop is a handful of queries. The same SQL runs on SQLite
and PostgreSQL; only the JSON reads (session themes, event reasons) differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

from inventory.errors import Invalid
from inventory.tables import Event

SCHOOL_KINDS = ("school", "college")


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


async def scalars(start: date, end: date, programme_id: int | None) -> dict[str, int]:
    """The report's single figures, in one query."""
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

    def of_period(status: str = "") -> str:
        # A session belongs to the period of the day it was held, else the day it was planned.
        day = "COALESCE(ms.held_on, ms.planned_on)"
        where = f"{day} >= {q.p(start)} AND {day} <= {q.p(end)}"
        return sessions(f"ms.status = '{status}' AND {where}" if status else where)

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
    parts["sessions_planned"] = of_period()
    parts["sessions_done"] = sessions(
        f"ms.status = 'done' AND ms.held_on >= {q.p(start)} AND ms.held_on <= {q.p(end)}"
    )
    parts["sessions_missed"] = of_period("missed")
    parts["sessions_cancelled"] = of_period("cancelled")
    parts["sessions_pending"] = of_period("planned")
    parts["minutes"] = (
        "SELECT COALESCE(SUM(ms.duration_minutes), 0) FROM mediation_session ms"
        f" WHERE ms.status = 'done' AND ms.held_on >= {q.p(start)} AND ms.held_on <= {q.p(end)}"
        f"{prog_s}"
    )
    sql = "SELECT " + ", ".join(f"({sub}) AS {key}" for key, sub in parts.items())
    row = (await _raw(q, sql))[0]
    return {key: int(row[key] or 0) for key in parts}


async def grouped(start: date, end: date, programme_id: int | None) -> dict[str, dict[str, int]]:
    """The report's breakdowns: {breakdown: {code: count}}."""
    s, e = _bounds(start, end)
    prog = f" AND l.programme = {int(programme_id)}" if programme_id is not None else ""
    prog_s = f" AND ms.programme = {int(programme_id)}" if programme_id is not None else ""
    postgres = _is_postgres()
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
        if postgres
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
    places = await _raw(
        q,
        "SELECT ms.place_type AS k, COUNT(*) AS n FROM mediation_session ms"
        f" WHERE {done} GROUP BY ms.place_type",
    )
    q = _Query()
    communes = await _raw(
        q,
        "SELECT b.insee_code AS k, COUNT(*) AS n FROM borrower b WHERE b.kind = 'household'"
        f" AND b.id IN (SELECT l.borrower FROM loan l WHERE l.opened_at < {q.p(e)}"
        f" AND (l.closed_at IS NULL OR l.closed_at >= {q.p(s)}){prog}) GROUP BY b.insee_code",
    )
    reason = "(e.payload::json ->> 'reason')" if postgres else "json_extract(e.payload, '$.reason')"
    q = _Query()
    retired = await _raw(
        q,
        f"SELECT {reason} AS k, COUNT(*) AS n FROM event e WHERE e.to_state = 'retired'"
        f" AND e.at >= {q.p(s)} AND e.at < {q.p(e)} GROUP BY {reason}",
    )
    return {
        name: {str(r["k"] or ""): int(r["n"]) for r in rows}
        for name, rows in (
            ("collected", collected),
            ("themes", themes),
            ("autonomy", autonomy),
            ("places", places),
            ("communes", communes),
            ("retired", retired),
        )
    }
