"""The web side of report visibility: a caller as a `loans.reports.visibility.Reader` (its role
and, for a funder account, the programmes linked to it on the accounts page, table
`funder_programme`), and a report file as an answer. Pages and the API both use these; the rule
itself lives in `loans.reports.visibility`.
"""

from __future__ import annotations

from typing import Any

from litestar import Response

from loans.reports import render
from loans.reports.visibility import FUNDER, Reader
from loans.reports.visibility import programmes_visible_to as visible_programmes
from web.accounts import Principal
from web.tables import FunderProgramme


async def report_reader(principal: Principal) -> Reader:
    """Who asks: a funder account carries its linked programmes; a token is linked to none."""
    if principal.role != FUNDER or principal.user_id is None:
        return Reader.of(principal.role)
    linked = await FunderProgramme.select(FunderProgramme.programme).where(
        FunderProgramme.user == principal.user_id
    )
    return Reader.of(principal.role, (row["programme"] for row in linked))


async def programmes_visible_to(principal: Principal) -> list[dict[str, Any]]:
    """The programmes (id, name, funder) this caller may report on, by name."""
    return await visible_programmes(await report_reader(principal))


def download(content: bytes, fmt: str, filename: str) -> Response[bytes]:
    """A report file, named for saving."""
    return Response(
        content,
        media_type=render.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )
