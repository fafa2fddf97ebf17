"""Server-made SVG charts (no script, no CDN): horizontal bars from a report section."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from html import escape

from loans.reports.funder import FunderReport, Row

WIDTH = 560
BAR = 18
GAP = 8
LABEL = 230


def bars(title: str, rows: list[Row]) -> str:
    """A horizontal bar chart; suppressed or empty values get no bar, only their text."""
    shown = [r for r in rows if r.display != "0"]
    if not shown:
        return ""
    values = [float(r.value) for r in shown if isinstance(r.value, int | Decimal)]
    top = max(values, default=0) or 1
    height = 28 + len(shown) * (BAR + GAP)
    span = WIDTH - LABEL - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'aria-label="{escape(title)}" font-size="11" '
        'font-family="Reemploi Sans, DejaVu Sans, sans-serif">',
        f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    for index, row in enumerate(shown):
        y = 26 + index * (BAR + GAP)
        parts.append(f'<text x="0" y="{y + 13}">{escape(row.label[:40])}</text>')
        length = 0.0
        if isinstance(row.value, int | Decimal):
            length = max(1.0, span * float(row.value) / top)
            parts.append(
                f'<rect x="{LABEL}" y="{y}" width="{length:.1f}" height="{BAR}" fill="#2f6f4f"/>'
            )
        parts.append(
            f'<text x="{LABEL + length + 4:.1f}" y="{y + 13}">{escape(row.display)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def report_charts(report: FunderReport) -> list[str]:
    """The charts of the funder report, from the same rows as its tables."""
    sections = {s.key: s for s in report.sections}
    collected = [r for r in sections["workshop"].rows if r.key.startswith("collected_")]
    collected = [
        replace(r, label=r.label.removeprefix("Collectés : "))
        for r in collected
        if r.key != "collected_total"
    ]
    charts = [
        bars("Appareils collectés par type de donateur", collected),
        bars("Séances", [r for r in sections["sessions"].rows if r.key.startswith("sessions_")]),
        bars("Thématiques", sections["themes"].rows),
        bars("Autonomie atteinte", sections["autonomy"].rows),
    ]
    return [c for c in charts if c]
