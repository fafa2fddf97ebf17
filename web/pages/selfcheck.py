"""The self-audit page: the violations `reemploi check` would print, for coordinators and admins."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from web.roles import MANAGERS
from web.selfcheck import audit


@get("/check", opt={"roles": MANAGERS}, include_in_schema=False)
async def check_page() -> Template:
    violations = await audit()
    return Template("selfcheck.html", context={"violations": violations})
