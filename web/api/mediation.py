"""Mediation: charter versions, sessions, workshops and reminders."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import Parameter

from inventory.errors import Invalid
from loans import archive as archive_service
from loans import (
    charter,
    mediation,
    reminders,
)
from web.accounts import Principal
from web.api.loan_schemas import (
    CharterIn,
    SessionBody,
    WorkshopBody,
)
from web.api.schemas import ArchiveIn
from web.roles import LENDING, MANAGERS

Limit = Annotated[int, Parameter(ge=1, le=500)]
Offset = Annotated[int, Parameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer


def decode_image(text: str) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("La signature doit être une image encodée en base64.") from None


def pdf_response(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CharterController(Controller):
    path = "/api/v1/charters"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING})
    async def list_charters(self) -> list[dict[str, Any]]:
        return await charter.list_versions()

    @get("/current", opt={"roles": LENDING})
    async def current(self) -> dict[str, Any]:
        return await charter.in_force()

    @post("/", opt={"roles": MANAGERS})
    async def create_version(self, data: CharterIn, principal: Principal) -> dict[str, Any]:
        """A new version; signed loans keep the text they were signed under."""
        return await charter.create_version(
            data.title, data.text, data.in_force_from, principal.actor
        )

    @post("/{charter_id:int}/archive", opt={"roles": MANAGERS}, status_code=200)
    async def archive(
        self, charter_id: int, data: ArchiveIn, principal: Principal
    ) -> dict[str, Any]:
        """Withdraw a charter version that is not in force; signed loans keep their text."""
        return await archive_service.archive_charter(charter_id, principal.actor, data.reason)


class SessionController(Controller):
    path = "/api/v1/sessions"
    tags = ["mediation"]

    @get("/", opt={"roles": LENDING})
    async def agenda(
        self,
        mediator: Annotated[str | None, Parameter(max_length=120)] = None,
        days: Annotated[int, Parameter(ge=0, le=366)] = 30,
    ) -> list[dict[str, Any]]:
        """Planned sessions, overdue first flagged, for one mediator or all."""
        return await mediation.agenda(date.today(), mediator, days)

    @get("/{session_id:int}", opt={"roles": LENDING})
    async def get_session(self, session_id: int) -> dict[str, Any]:
        return await mediation.get_session(session_id)

    @post("/{session_id:int}/record", opt={"roles": LENDING}, status_code=200)
    async def record(
        self, session_id: int, data: SessionBody, principal: Principal
    ) -> dict[str, Any]:
        return await mediation.record_session(
            session_id,
            mediation.SessionRecord(**msgspec.structs.asdict(data)),
            principal.actor,
        )

    @post("/workshops", opt={"roles": LENDING})
    async def workshop(self, data: WorkshopBody, principal: Principal) -> dict[str, Any]:
        """A collective workshop with several borrowers."""
        return await mediation.create_workshop(
            data.planned_on, data.mediator, data.label, list(data.borrower_ids), principal.actor
        )


@get("/api/v1/reminders", opt={"roles": LENDING}, tags=["mediation"])
async def reminders_today() -> dict[str, Any]:
    """What the daily job would send: overdue loans, overdue and upcoming sessions."""
    d = await reminders.digest(date.today())
    return {
        "today": d.today,
        "overdue_loans": d.overdue_loans,
        "overdue_sessions": d.overdue_sessions,
        "upcoming_sessions": d.upcoming_sessions,
    }
