"""Which programmes' reports a caller may read.

Coordinators and administrators read every programme; a funder account reads the programmes
linked to it on the accounts page (table `funder_programme`), and nothing else. A funder's
bearer token is linked to no account, so it reads none.
"""

from __future__ import annotations

from typing import Any, Protocol

from loans.tables import Programme

READ_ALL = frozenset({"coordinator", "admin"})


class Caller(Protocol):
    role: str
    user_id: int | None


async def programmes_visible_to(principal: Caller) -> list[dict[str, Any]]:
    """The programmes (id, name, funder) this caller may report on, by name."""
    from web.tables import FunderProgramme

    query = Programme.select(Programme.id, Programme.name, Programme.funder).order_by(
        Programme.name
    )
    if principal.role in READ_ALL:
        return await query
    if principal.role != "funder" or principal.user_id is None:
        return []
    linked = FunderProgramme.select(FunderProgramme.programme).where(
        FunderProgramme.user == principal.user_id
    )
    ids = [row["programme"] for row in await linked]
    return await query.where(Programme.id.is_in(ids)) if ids else []


async def may_read_programme(principal: Caller, programme_id: int) -> bool:
    return any(row["id"] == programme_id for row in await programmes_visible_to(principal))
