"""The public privacy notice for borrowers: what is kept, why, how long, and how to ask."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from loans import privacy


@get("/confidentialite", opt={"public": True}, include_in_schema=False)
async def privacy_page(request: Request) -> Template:
    """What docs/privacy.md says, in plain French, for the person who signs a charter."""
    days = privacy.retention_days()
    years = days / 365
    period = f"{years:g} ans" if days % 365 == 0 else f"{days} jours"
    return Template("privacy.html", context={"period": period, "principal": request.user})
