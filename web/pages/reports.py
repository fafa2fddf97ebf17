"""Report pages: the funder report with its charts, the donor report, the downloads."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from inventory.config import settings
from inventory.errors import Invalid
from inventory.tables import Donor
from loans.reports import attestation, donor, render
from loans.reports.charts import report_charts
from loans.reports.funder import DEFINITIONS
from loans.reports.visibility import compute, programmes_visible_to, visible_ids
from web.accounts import Principal
from web.report_readers import download, report_reader
from web.roles import FUNDING, MANAGERS

From = Annotated[str, QueryParameter(name="from", max_length=10)]
To = Annotated[str, QueryParameter(name="to", max_length=10)]
Format = Annotated[str, QueryParameter(name="format", max_length=5)]


def _default_period() -> tuple[str, str]:
    today = date.today()
    return date(today.year, 1, 1).isoformat(), today.isoformat()


@get("/reports", opt={"roles": FUNDING}, include_in_schema=False)
async def reports_index(principal: NamedDependency[Principal]) -> Template:
    return await _index(principal)


async def _index(principal: Principal) -> Template:
    start, end = _default_period()
    reader = await report_reader(principal)
    # Donor reports and "all programmes" are for those who read every programme.
    managers = visible_ids(reader) is None
    donors = await Donor.select(Donor.id, Donor.name).order_by(Donor.name) if managers else []
    return Template(
        "reports.html",
        context={
            "programmes": await programmes_visible_to(reader),
            "all_allowed": managers,
            "donors": donors,
            "start": start,
            "end": end,
        },
    )


@get("/reports/funder", opt={"roles": FUNDING}, include_in_schema=False)
async def funder_report_page(
    principal: NamedDependency[Principal],
    start: From = "",
    end: To = "",
    programme: Annotated[str, QueryParameter(max_length=12)] = "all",
    fmt: Format = "html",
) -> Response[bytes] | Template:
    """The report on screen with its SVG charts; `format` pdf, csv or xlsx downloads it."""
    default_start, default_end = _default_period()
    start, end = start or default_start, end or default_end
    if fmt not in render.FORMATS:
        raise Invalid(f"Format attendu : {', '.join(render.FORMATS)}.")
    reader = await report_reader(principal)
    if visible_ids(reader) is not None and programme.strip() in ("", "all"):
        # A funder without a choice gets its own programme (the first one, if several).
        own = await programmes_visible_to(reader)
        if not own:
            return await _index(principal)
        programme = str(own[0]["id"])
    report = await compute(reader, programme, start, end)
    if fmt != "html":
        name = f"rapport-{programme or 'all'}-{report.start}-{report.end}"
        return download(await render.render_async(report, fmt), fmt, name)
    return Template(
        "report_funder.html",
        context={
            "report": report,
            "period": render.period_text(report),
            "charts": report_charts(report),
            "impact": report.impact,
            "definitions": DEFINITIONS,
            "query": {"programme": programme, "from": start, "to": end},
        },
    )


@get("/reports/donors/{donor_id:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def donor_report_page(
    donor_id: FromPath[int], fmt: Format = "html"
) -> Response[bytes] | Template:
    """Every device of a donor and its fate; `format=pdf` for the PDF/A to send."""
    report = await donor.donor_report(donor_id, settings().base_url)
    if fmt == "pdf":
        pdf = await donor.donor_pdf_async(report)
        return download(pdf, "pdf", f"rapport-donateur-{donor_id}")
    return Template("report_donor.html", context={"r": report})


@get("/reports/donors/{donor_id:int}/attestation", opt={"roles": MANAGERS}, include_in_schema=False)
async def donor_attestation_page(
    donor_id: FromPath[int], fmt: Format = "html"
) -> Response[bytes] | Template:
    """A public donor's attestation of reuse (décret 2023-266); `format` pdf or csv downloads it."""
    if fmt not in ("html", "pdf", "csv"):
        raise Invalid("Format attendu : html, pdf ou csv.")
    content = await attestation.attestation(donor_id)
    name = f"attestation-reemploi-{donor_id}"
    if fmt == "pdf":
        return download(await attestation.attestation_pdf_async(content), "pdf", name)
    if fmt == "csv":
        return download(attestation.attestation_csv(content), "csv", name)
    return Template("report_attestation.html", context={"a": content})


@get(
    "/reports/donors/{donor_id:int}/certificates", opt={"roles": MANAGERS}, include_in_schema=False
)
async def donor_certificates(donor_id: FromPath[int]) -> Response[bytes]:
    """The bundle: the donor report and each donation's erasure certificate, in a ZIP."""
    content = await donor.certificate_bundle(donor_id, settings().base_url)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="certificats-donateur-{donor_id}.zip"'
        },
    )
