"""The audit trail, for coordinators, and who the caller is."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination  # pyright: ignore[reportAttributeAccessIssue]
from litestar.params import FromQuery, QueryParameter

from inventory import audit
from inventory.devices import EventOut
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import EVERYONE, MANAGERS


class Me(msgspec.Struct):
    """The caller: the account's name and role."""

    name: str
    role: str


@get("/api/v1/events", opt={"roles": MANAGERS}, tags=["events"], responses=errors())
async def list_events(
    kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
    device: FromQuery[int | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    offset: Annotated[int, QueryParameter(ge=0, le=2**63 - 1)] = 0,  # SQL OFFSET: 64 bits
) -> OffsetPagination[EventOut]:
    """Events newest first, optionally of one kind or one device."""
    items, total = await audit.trail(kind=kind, device=device, limit=limit, offset=offset)
    return OffsetPagination(items=items, limit=limit, offset=offset, total=total)


@get("/api/v1/me", opt={"roles": EVERYONE}, tags=["auth"], responses=errors())
async def me(principal: NamedDependency[Principal]) -> Me:
    """Who the caller is."""
    return Me(name=principal.name, role=principal.role)
