"""The audit trail, for coordinators."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.pagination import OffsetPagination
from litestar.params import Parameter

from inventory.tables import Event
from web.accounts import Principal
from web.api.schemas import EventOut, Me
from web.roles import EVERYONE, MANAGERS


@get("/api/v1/events", opt={"roles": MANAGERS}, tags=["events"])
async def list_events(
    kind: Annotated[str | None, Parameter(max_length=40)] = None,
    device: int | None = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0, le=2**63 - 1)] = 0,  # SQL OFFSET: 64 bits
) -> OffsetPagination[EventOut]:
    """Events newest first, optionally of one kind or one device."""
    where = []
    if kind:
        where.append(Event.kind == kind)
    if device is not None:
        where.append(Event.device == device)
    query = Event.select().order_by(Event.id, ascending=False).output(load_json=True)
    count = Event.count()
    if where:
        query, count = query.where(*where), count.where(*where)
    rows = await query.limit(limit).offset(offset)
    items = [EventOut.from_row(r) for r in rows]
    return OffsetPagination(items=items, limit=limit, offset=offset, total=await count)


@get("/api/v1/me", opt={"roles": EVERYONE}, tags=["auth"])
async def me(principal: Principal) -> Me:
    """Who the caller is."""
    return Me(name=principal.name, role=principal.role)
