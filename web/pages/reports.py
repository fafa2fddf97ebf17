"""Report pages: the funder report with its charts, the donor report, the downloads."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Request, Response, get
from litestar.params import Parameter
from litestar.response import Template

from inventory.errors import Invalid
from inventory.tables import Donor
from loans.reports import donor, render
from loans.reports.charts import report_charts
from loans.reports.funder import DEFINITIONS
from loans.reports.visibility import programmes_visible_to
from web.api.reports import REPORT_READERS, compute, download
from web.roles import MANAGERS, Role
from web.settings import base_url

From = Annotated[str, Parameter(query="from", max_length=10)]
To = Annotated[str, Parameter(query="to", max_length=10)]


def _default_period() -> tuple[str, str]:
    today = date.today()
    return date(today.year, 1, 1).isoformat(), today.isoformat()


@get("/reports", opt={"roles": REPORT_READERS}, include_in_schema=False)
async def reports_index(request: Request) -> Template:
    return await _index(request)


async def _index(request: Request) -> Template:
    start, end = _default_period()
    managers = request.user.role != Role.funder
    donors = await Donor.select(Donor.id, Donor.name).order_by(Donor.name) if managers else []
    return Template(
        "reports.html",
        context={
            "programmes": await programmes_visible_to(request.user),
            "all_allowed": managers,
            "donors": donors,
            "start": start,
            "end": end,
        },
    )


@get("/reports/funder", opt={"roles": REPORT_READERS}, include_in_schema=False)
async def funder_report_page(
    request: Request,
    start: From = "",
    end: To = "",
    programme: Annotated[str, Parameter(max_length=12)] = "all",
    fmt: Annotated[str, Parameter(query="format", max_length=5)] = "html",
) -> Response | Template:
    """The report on screen with its SVG charts; `format` pdf, csv or xlsx downloads it."""
    default_start, default_end = _default_period()
    start, end = start or default_start, end or default_end
    if fmt not in render.FORMATS:
        raise Invalid(f"Format attendu : {', '.join(render.FORMATS)}.")
    if request.user.role == Role.funder and programme.strip() in ("", "all"):
        # A funder without a choice gets its own programme (the first one, if several).
        own = await programmes_visible_to(request.user)
        if not own:
            return await _index(request)
        programme = str(own[0]["id"])
    report = await compute(request, programme, start, end)
    if fmt != "html":
        name = f"rapport-{programme or 'all'}-{report.start}-{report.end}"
        return download(render.render(report, fmt), fmt, name)
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
    donor_id: int, fmt: Annotated[str, Parameter(query="format", max_length=5)] = "html"
) -> Response | Template:
    """Every device of a donor and its fate; `format=pdf` for the PDF/A to send."""
    report = await donor.donor_report(donor_id, base_url())
    if fmt == "pdf":
        return download(donor.donor_pdf(report), "pdf", f"rapport-donateur-{donor_id}")
    return Template("report_donor.html", context={"r": report})


@get(
    "/reports/donors/{donor_id:int}/certificates", opt={"roles": MANAGERS}, include_in_schema=False
)
async def donor_certificates(donor_id: int) -> Response[bytes]:
    """The bundle: the donor report and each donation's erasure certificate, in a ZIP."""
    content = await donor.certificate_bundle(donor_id, base_url())
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="certificats-donateur-{donor_id}.zip"'
        },
    )
