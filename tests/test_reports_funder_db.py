"""Funder report: hand-computed golden figures, identical in HTML, PDF, CSV and XLSX; no personal
data in any output; small counts suppressed."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from loans.reports import funder, render
from tests.support import run
from tests.test_reports_scenario import build

pytestmark = pytest.mark.db

# Hand-computed from the scenario (threshold 2: a count of 1 about people shows "< 2"; devices
# lent, returned, lost or stolen count people's loans; hours are masked with the sessions done).
GOLDEN_P1 = {
    "collected_total": "2",
    "collected_public_body": "2",
    "collected_company": "0",
    "sanitized_clear": "1",
    "sanitized_purge": "1",
    "imaged": "2",
    "loans_new": "< 2",
    "devices_lent": "2",
    "loans_active_end": "< 2",
    "devices_returned": "< 2",
    "devices_repaired": "1",
    "devices_lost": "< 2",
    "devices_stolen": "0",
    "on_loan_during": "3",
    "loss_rate": "33,3",
    "households": "2",
    "children": "5",
    "organisations": "0",
    "schools": "< 2",
    "communes": "< 2",
    "qpv_share": "100,0",
    "sessions_planned": "2",
    "sessions_done": "< 2",
    "sessions_missed": "< 2",
    "sessions_cancelled": "0",
    "mediation_hours": "masqué",
    "place_lieu_activite": "< 2",
    "theme_email": "< 2",
    "theme_prendre_en_main_du_materiel": "< 2",
    "autonomy_partiellement_autonome": "< 2",
    "autonomy_autonome": "0",
    "laptops_lent": "2",
    "co2e_avoided": "54,0",
    "raw_materials_avoided": "254,0",
    "ewaste_avoided": "0,6",
}
GOLDEN_ALL = {
    **GOLDEN_P1,
    "loans_new": "2",
    "devices_lent": "3",
    "loans_active_end": "< 2",
    "devices_stolen": "< 2",
    "on_loan_during": "4",
    "loss_rate": "50,0",
    "households": "3",
    "communes": "2",
    "qpv_share": "66,7",
    "sessions_planned": "4",
    "sessions_done": "2",
    "sessions_cancelled": "< 2",
    "mediation_hours": "2,5",
    "place_lieu_activite": "2",
    "commune_69123": "2",
    "commune_38185": "< 2",
    "theme_email": "2",
    "autonomy_autonome": "< 2",
    "laptops_lent": "3",
    "co2e_avoided": "81,0",
    "raw_materials_avoided": "381,0",
    "ewaste_avoided": "0,9",
}


@pytest.fixture(scope="module")
def scenario() -> dict:
    from tests.support import clear_tables

    run(clear_tables())
    return run(build())


def outputs(report: funder.FunderReport) -> dict[str, object]:
    """Each format, read back: {key: displayed figure}, plus the whole text for searches."""
    html = render.render(report, "html").decode()
    pdf = render.render(report, "pdf")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.pdf"
        path.write_bytes(pdf)
        pdf_text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        ).stdout
    csv_text = render.render(report, "csv").decode("utf-8-sig")
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render.render(report, "xlsx")))
    cells = [
        str(c)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for c in row
    ]
    return {
        "html": html,
        "pdf": pdf_text,
        "csv": csv_text,
        "xlsx_rows": list(book["Rapport"].iter_rows(min_row=2)),
        "xlsx_text": "\n".join(cells),
    }


def figures_by_format(report: funder.FunderReport) -> dict[str, dict[str, str]]:
    out = outputs(report)
    html = dict(re.findall(r'data-key="([a-z0-9_]+)">([^<%]+?)(?: %)?</td>', out["html"]))
    html = {k: v.replace("&lt;", "<") for k, v in html.items()}
    rows = list(csv.reader(io.StringIO(out["csv"]), delimiter=";"))[1:]
    by_csv = {r[1]: r[3] for r in rows if r[0] not in ("rapport", "sources")}
    by_xlsx = {}
    for section, key, _label, cell, _unit in out["xlsx_rows"]:
        if section.value == "rapport":
            continue
        value = cell.value
        if cell.number_format == "0.0":  # a decimal figure, shown with one digit
            value = f"{float(value):.1f}".replace(".", ",")
        by_xlsx[key.value] = str(value)
    # The PDF: each row is "label ... value" on one line (pdftotext drops the space of "< 2").
    by_pdf = {}
    lines = [re.sub(r"\s+", "", line) for line in out["pdf"].splitlines()]
    for _, row in report.rows():
        percent = "%" if row.unit == "%" and row.value is not None else ""
        wanted = re.sub(r"\s+", "", row.label), re.sub(r"\s+", "", row.display) + percent
        found = any(ln.startswith(wanted[0]) and ln.endswith(wanted[1]) for ln in lines)
        by_pdf[row.key] = row.display if found else f"missing: {row.label}"
    return {"html": html, "csv": by_csv, "xlsx": by_xlsx, "pdf": by_pdf}


@pytest.mark.parametrize("which", ["p1", "all"])
def test_golden_figures_identical_in_four_formats(scenario: dict, which: str) -> None:
    programme = scenario["p1"]["id"] if which == "p1" else None
    golden = GOLDEN_P1 if which == "p1" else GOLDEN_ALL
    report = run(funder.funder_report(programme, scenario["start"], scenario["end"], threshold=2))
    computed = {row.key: row.display for _, row in report.rows()}
    assert {k: computed.get(k) for k in golden} == golden
    formats = figures_by_format(report)
    for name, figures in formats.items():
        assert figures == computed, name


def test_no_personal_data_in_any_funder_output(scenario: dict) -> None:
    for programme in (scenario["p1"]["id"], scenario["p2"]["id"], None):
        report = run(funder.funder_report(programme, scenario["start"], scenario["end"]))
        out = outputs(report)
        for fmt in ("html", "pdf", "csv", "xlsx_text"):
            text = out[fmt].lower()
            for value in scenario["personal"]:
                assert value.lower() not in text, (fmt, value)


def test_small_counts_are_suppressed_with_the_default_threshold(scenario: dict) -> None:
    report = run(funder.funder_report(None, scenario["start"], scenario["end"], threshold=5))
    assert report.value("households") == "< 5"
    assert report.value("children") == "5"
    # A rate over a masked denominator would give it back (2 of 3 is the only fraction
    # 66,7 % allows under 5): masked too, and the note says so.
    assert report.value("qpv_share") == "masqué"
    assert report.value("devices_lent") == "< 5"  # devices lent count people's loans
    assert report.value("collected_total") == "2"  # the workshop's devices do not
    assert "Part des foyers en QPV" in report.note and "« masqué »" in report.note
    for _, row in report.rows():
        if row.value is not None and row.key.startswith(("theme_", "autonomy_", "sessions_")):
            assert row.value == 0 or row.value >= 5


def test_the_period_boundary_excludes_the_old_phase(scenario: dict) -> None:
    from datetime import timedelta

    start = scenario["start"] - timedelta(days=500)
    old_end = scenario["start"] - timedelta(days=300)
    old = run(funder.funder_report(scenario["p1"]["id"], start, old_end, threshold=1))
    assert old.value("collected_company") == "3"
    assert old.value("sanitized_clear") == "3"
    assert old.value("loans_new") == "2"
    assert old.value("devices_returned") == "1"
    assert old.value("sessions_done") == "1"
    assert old.value("loans_active_end") == "1"
    with pytest.raises(Exception, match="précède"):
        run(funder.funder_report(None, scenario["end"], scenario["start"]))


def test_sources_and_method_are_printed_in_every_format(scenario: dict) -> None:
    from loans.reports import impact

    report = run(funder.funder_report(None, scenario["start"], scenario["end"]))
    out = outputs(report)
    source = impact.figures()["avoided_per_extra_year"]
    for fmt in ("html", "csv", "xlsx_text"):
        assert source["url"] in out[fmt] and "ADEME" in out[fmt], fmt
    pdf = " ".join(out["pdf"].split())
    assert "Évaluation de l'impact environnemental d'un ensemble de produits" in pdf
    assert "27 kg CO2e" in pdf and "170 kg CO2e" in pdf and "259 kg" in pdf and "65 kg" in pdf


def test_charts_are_svg_with_bars_only_for_shown_figures(scenario: dict) -> None:
    import xml.etree.ElementTree as ET

    from loans.reports.charts import report_charts

    report = run(funder.funder_report(None, scenario["start"], scenario["end"], threshold=2))
    charts = [ET.fromstring(svg) for svg in report_charts(report)]
    assert len(charts) == 4
    ns = "{http://www.w3.org/2000/svg}"
    sessions = charts[1]
    texts = [t.text for t in sessions.iter(f"{ns}text")]
    assert "Séances de la période" in texts and "< 2" in texts
    # The period's (4) and done (2) have bars; missed and cancelled ("< 2") have none.
    widths = [float(r.get("width")) for r in sessions.iter(f"{ns}rect")]
    assert len(widths) == 2 and widths[0] == 2 * widths[1]
