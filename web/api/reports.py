"""Reports API: the funder report (JSON or a file), the donor report, open data per commune.

Coordinators and admins see every programme; a funder account sees, read-only, the programmes
linked to it on the accounts page (loans.reports.visibility), and never "all programmes".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.exceptions import PermissionDeniedException
from litestar.params import Parameter

from inventory.errors import Invalid
from loans.reports import donor, funder, opendata, render
from loans.reports.visibility import programmes_visible_to
from web.roles import MANAGERS, Role
from web.settings import base_url

# Reading reports: managers, and funders for their own programme.
REPORT_READERS = MANAGERS | {Role.funder}
From = Annotated[str, Parameter(query="from", max_length=10)]
To = Annotated[str, Parameter(query="to", max_length=10)]


def day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{what} : date attendue au format AAAA-MM-JJ.") from None


async def visible_programmes(request: Request) -> list[dict[str, Any]]:
    """The programmes this caller may report on."""
    return await programmes_visible_to(request.user)


async def allowed_programme(request: Request, programme: str) -> int | None:
    """The programme id asked for ("" or "all": every programme), if this caller may see it."""
    programme = programme.strip()
    wanted = None if programme in ("", "all") else programme
    if wanted is not None and not wanted.isdigit():
        raise Invalid("Programme : numéro attendu, ou « all » pour tous les programmes.")
    if request.user.role == Role.funder:
        visible = {r["id"] for r in await visible_programmes(request)}
        if wanted is None or int(wanted) not in visible:
            raise PermissionDeniedException("Un financeur ne voit que le rapport de son programme.")
    return int(wanted) if wanted is not None else None


async def compute(request: Request, programme: str, start: str, end: str) -> funder.FunderReport:
    programme_id = await allowed_programme(request, programme)
    return await funder.funder_report(programme_id, day(start, "Début"), day(end, "Fin"))


def download(content: bytes, fmt: str, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type=render.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


def as_json(report: funder.FunderReport) -> dict[str, Any]:
    return {
        "programme": report.programme,
        "funder": report.funder,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "threshold": report.threshold,
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "rows": [
                    {"key": r.key, "label": r.label, "display": r.display, "unit": r.unit}
                    for r in s.rows
                ],
            }
            for s in report.sections
        ],
        "sources": report.impact,
    }


@get("/api/v1/reports/funder", opt={"roles": REPORT_READERS})
async def funder_report_api(
    request: Request,
    start: From,
    end: To,
    programme: Annotated[str, Parameter(max_length=12)] = "all",
    fmt: Annotated[str, Parameter(query="format", max_length=5)] = "json",
) -> Response[Any]:
    """The anonymised funder report: JSON, or a file (html, pdf, csv, xlsx), same figures."""
    if fmt != "json" and fmt not in render.FORMATS:
        raise Invalid(f"Format attendu : json, {', '.join(render.FORMATS)}.")
    report = await compute(request, programme, start, end)
    if fmt == "json":
        return Response(as_json(report))
    name = f"rapport-{programme or 'all'}-{report.start}-{report.end}"
    return download(render.render(report, fmt), fmt, name)


@get("/api/v1/reports/donors/{donor_id:int}", opt={"roles": MANAGERS})
async def donor_report_api(donor_id: int) -> dict[str, Any]:
    """Each device of a donor's donations, its fate and its erasure certificates."""
    report = await donor.donor_report(donor_id, base_url())
    report["generated_at"] = report["generated_at"].isoformat()
    for row in report["devices"]:
        row["received_on"] = str(row["received_on"])
    return report


@get("/api/v1/reports/opendata", opt={"roles": MANAGERS})
async def opendata_api(start: From, end: To) -> Response[bytes]:
    """Anonymised aggregates per commune (INSEE code), CSV."""
    rows = await opendata.per_commune(day(start, "Début"), day(end, "Fin"))
    return Response(
        opendata.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="communes-{start}-{end}.csv"'},
    )
