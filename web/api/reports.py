"""Reports API: the funder report (JSON or a file), the donor report, indicators per commune, and
the association's places for the national map.

Coordinators and admins see every programme; a funder account sees, read-only, the programmes
linked to it on the accounts page, and never "all programmes": the rule and the computation are
in `loans.reports.visibility`, the same the report pages call.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from inventory.clock import now
from inventory.config import settings
from inventory.errors import Invalid
from loans.reports import donor, funder, lieux, opendata, render
from loans.reports.visibility import compute, day
from web.accounts import Principal
from web.api.openapi import errors
from web.report_readers import download, report_reader
from web.roles import FUNDING, MANAGERS

From = Annotated[str, QueryParameter(name="from", max_length=10)]
To = Annotated[str, QueryParameter(name="to", max_length=10)]


# JSON by default; `format` gives the same figures as a file (the 200 documents the JSON).
FUNDER_REPORT_ANSWERS = {
    **errors(404, 422),
    200: ResponseSpec(
        data_container=funder.FunderReportOut,
        description="Le rapport en JSON ; avec `format` (html, pdf, csv, xlsx), le fichier.",
    ),
}


@get("/api/v1/reports/funder", opt={"roles": FUNDING}, responses=FUNDER_REPORT_ANSWERS)
async def funder_report_api(
    principal: NamedDependency[Principal],
    start: From,
    end: To,
    programme: Annotated[str, QueryParameter(max_length=12)] = "all",
    fmt: Annotated[str, QueryParameter(name="format", max_length=5)] = "json",
) -> Response[funder.FunderReportOut] | Response[bytes]:
    """The anonymised funder report: JSON, or a file (html, pdf, csv, xlsx), same figures."""
    if fmt != "json" and fmt not in render.FORMATS:
        raise Invalid(f"Format attendu : json, {', '.join(render.FORMATS)}.")
    report = await compute(await report_reader(principal), programme, start, end)
    if fmt == "json":
        return Response(funder.report_out(report))
    name = f"rapport-{programme or 'all'}-{report.start}-{report.end}"
    return download(await render.render_async(report, fmt), fmt, name)


@get("/api/v1/reports/donors/{donor_id:int}", opt={"roles": MANAGERS}, responses=errors(404))
async def donor_report_api(donor_id: FromPath[int]) -> donor.DonorReportOut:
    """Each device of a donor's donations, its fate and its erasure certificates."""
    return donor.donor_report_out(await donor.donor_report(donor_id, settings().base_url))


@get("/api/v1/reports/communes", opt={"roles": MANAGERS}, responses=errors(422))
async def communes_api(start: From, end: To) -> Response[bytes]:
    """Lending indicators per commune (INSEE code), anonymised, CSV."""
    rows = await opendata.per_commune(day(start, "Début"), day(end, "Fin"))
    name = f"{opendata.DATASET}-{start}-{end}.csv"
    return Response(
        opendata.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# The former address, kept for links and scripts; hidden from the schema (its successor is there).
@get("/api/v1/reports/opendata", opt={"roles": MANAGERS}, include_in_schema=False)
async def opendata_api(start: From, end: To) -> Redirect:
    """The former address of the indicators per commune: it leads to /api/v1/reports/communes."""
    return Redirect(
        "/api/v1/reports/communes", query_params={"from": start, "to": end}, status_code=308
    )


@get("/api/v1/reports/lieux", opt={"roles": MANAGERS}, responses=errors(422))
async def lieux_api(
    fmt: Annotated[str, QueryParameter(name="format", max_length=5)] = "csv",
) -> Response[bytes]:
    """The association's places per the national "lieux de médiation numérique" schema
    (v1.0.2), CSV or JSON; sites lacking an address, postal code or commune are left out."""
    if fmt not in ("csv", "json"):
        raise Invalid("Format attendu : csv ou json.")
    rows, _ = await lieux.places()
    content = lieux.to_csv(rows) if fmt == "csv" else lieux.to_json(rows)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    name = f"{now().date().isoformat()}_lieux-de-mediation-numerique.{fmt}"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
