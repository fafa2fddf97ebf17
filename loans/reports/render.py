"""One computed report, four outputs (HTML, PDF, CSV, XLSX): the figures are the same strings."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from labels.pdf import render_html, render_pdf, render_pdf_async
from loans.reports.cells import safe_row
from loans.reports.charts import report_charts
from loans.reports.funder import DEFINITIONS, FunderReport

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("html", "pdf", "csv", "xlsx")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADER = ["section", "indicateur", "libellé", "valeur", "unité"]


def period_text(report: FunderReport) -> str:
    return f"du {report.start:%d/%m/%Y} au {report.end:%d/%m/%Y}"


def context(report: FunderReport) -> dict[str, Any]:
    return {
        "report": report,
        "period": period_text(report),
        "charts": report_charts(report),
        "impact": report.impact,
        "definitions": DEFINITIONS,
    }


def meta_rows(report: FunderReport) -> list[list[str]]:
    return [
        ["rapport", "programme", "Programme", report.programme, ""],
        ["rapport", "financeur", "Financeur", report.funder, ""],
        ["rapport", "debut", "Début", report.start.isoformat(), ""],
        ["rapport", "fin", "Fin", report.end.isoformat(), ""],
        ["rapport", "seuil", "Seuil de secret statistique", str(report.threshold), ""],
        ["rapport", "note", "Secret statistique", report.note, ""],
    ]


def to_csv(report: FunderReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(safe_row(line) for line in meta_rows(report))
    for section, row in report.rows():
        writer.writerow(safe_row([section.key, row.key, row.label, row.display, row.unit]))
    avoided = report.impact["avoided_per_extra_year"]
    manufacturing = report.impact["manufacturing"]
    writer.writerow(safe_row(["sources", "ademe_2022", avoided["source"], avoided["url"], ""]))
    writer.writerow(
        safe_row(["sources", "impact_co2", manufacturing["source"], manufacturing["url"], ""])
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: FunderReport) -> bytes:
    # openpyxl is heavy and only this format needs it: imported when a workbook is asked for.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "Rapport"
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in meta_rows(report):
        sheet.append(safe_row(line))
    for section, row in report.rows():
        value: Any = row.display
        if isinstance(row.value, int):
            value = row.value
        elif isinstance(row.value, Decimal):
            value = float(row.display.replace(",", "."))
        sheet.append(safe_row([section.key, row.key, row.label, value, row.unit]))
        if isinstance(row.value, Decimal):
            sheet.cell(sheet.max_row, 4).number_format = "0.0"
    for column, width in zip("ABCDE", (12, 28, 52, 14, 8), strict=True):
        sheet.column_dimensions[column].width = width
    sources = book.create_sheet("Sources")
    sources.append(["source", "référence", "adresse"])
    avoided = report.impact["avoided_per_extra_year"]
    manufacturing = report.impact["manufacturing"]
    sources.append(safe_row(["ADEME 2022", avoided["source"], avoided["url"]]))
    sources.append(safe_row(["Impact CO2", manufacturing["source"], manufacturing["url"]]))
    for item in manufacturing["items"]:
        sources.append(safe_row([item["label"], f"{item['co2e_kg']} kg CO2e (fabrication)", ""]))
    sources.append(safe_row(["Méthode", report.impact["method"], ""]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_html(report: FunderReport) -> bytes:
    """A standalone HTML document (the same template as the PDF)."""
    return render_html("funder_report.html", context(report), search_path=[TEMPLATES]).encode()


def to_pdf(report: FunderReport) -> bytes:
    """The PDF/A, laid out here: for the command line (sync); the server uses `render_async`."""
    return render_pdf("funder_report.html", context(report), pdfa=True, search_path=[TEMPLATES])


def render(report: FunderReport, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(fmt)
    return {"html": to_html, "pdf": to_pdf, "csv": to_csv, "xlsx": to_xlsx}[fmt](report)


async def render_async(report: FunderReport, fmt: str) -> bytes:
    """The same outputs for the server: the PDF is laid out in the renderer pool, off the event
    loop (call it outside any transaction)."""
    if fmt == "pdf":
        return await render_pdf_async(
            "funder_report.html", context(report), pdfa=True, search_path=[TEMPLATES]
        )
    return render(report, fmt)
