"""Indicators per commune: anonymised lending aggregates per INSEE code, CSV, one GROUP BY query.

The second open dataset, beside the association's places (`loans.reports.lieux`): each row is a
commune where borrowers had a loan running during the period; cells from 1 to N-1 show "< N"
(N: the report threshold).
"""

from __future__ import annotations

import csv
import io
from datetime import date

from inventory.tables import Event
from loans.reports.cells import safe_row
from loans.reports.funder import _bounds, _Query, check_period, default_threshold

DATASET = "indicateurs-par-commune"  # the name its downloads carry
COLUMNS = [
    ("households", "foyers"),
    ("children", "enfants"),
    ("organisations", "organisations"),
    ("qpv_households", "foyers_qpv"),
    ("devices_lent", "appareils_pretes"),
    ("sessions_done", "seances_realisees"),
]


async def per_commune(start: date, end: date) -> list[dict[str, int | str]]:
    check_period(start, end)
    s, e = _bounds(start, end)
    q = _Query()  # placeholders in the order of the final text: lent, done, reached
    lent = (
        "SELECT l.borrower AS bid, COUNT(*) AS n FROM loan_device ld JOIN loan l ON ld.loan = l.id"
        f" WHERE ld.out_at >= {q.p(s)} AND ld.out_at < {q.p(e)} GROUP BY l.borrower"
    )
    done = (
        "SELECT ms.borrower AS bid, COUNT(*) AS n FROM mediation_session ms"
        f" WHERE ms.status = 'done' AND ms.held_on >= {q.p(start)} AND ms.held_on <= {q.p(end)}"
        " GROUP BY ms.borrower"
    )
    reached = (
        f"SELECT l.borrower FROM loan l WHERE l.opened_at < {q.p(e)}"
        f" AND (l.closed_at IS NULL OR l.closed_at >= {q.p(s)})"
    )
    sql = (
        "SELECT b.insee_code AS insee, MAX(b.commune) AS commune,"
        " SUM(CASE WHEN b.kind = 'household' THEN 1 ELSE 0 END) AS households,"
        " SUM(CASE WHEN b.kind = 'household' THEN b.children_count ELSE 0 END) AS children,"
        " SUM(CASE WHEN b.kind = 'organisation' THEN 1 ELSE 0 END) AS organisations,"
        " SUM(CASE WHEN b.kind = 'household' AND b.qpv_resident THEN 1 ELSE 0 END)"
        " AS qpv_households,"
        " COALESCE(SUM(lent.n), 0) AS devices_lent, COALESCE(SUM(done.n), 0) AS sessions_done"
        f" FROM borrower b LEFT JOIN ({lent}) lent ON lent.bid = b.id"
        f" LEFT JOIN ({done}) done ON done.bid = b.id"
        f" WHERE b.insee_code <> '' AND b.id IN ({reached})"
        " GROUP BY b.insee_code ORDER BY b.insee_code"
    )
    rows = await Event.raw(sql, *q.args)
    return [
        {
            "insee": r["insee"],
            "commune": r["commune"] or "",
            **{k: int(r[k] or 0) for k, _ in COLUMNS},
        }
        for r in rows
    ]


def to_csv(rows: list[dict[str, int | str]], threshold: int | None = None) -> bytes:
    threshold = threshold or default_threshold()
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\r\n")
    writer.writerow(["code_insee", "commune", *[name for _, name in COLUMNS]])
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = int(row[key])
            cells.append(f"< {threshold}" if 0 < value < threshold else str(value))
        writer.writerow(safe_row([row["insee"], row["commune"], *cells]))
    return buffer.getvalue().encode("utf-8")
