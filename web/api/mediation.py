"""Mediation: charter versions, sessions, workshops and reminders.

Each operation takes its command from the domain (`loans.charter.CharterIn`,
`loans.mediation.SessionRecord`, `loans.mediation.WorkshopIn`), the same struct the pages fill
from their forms, and answers with the domain's struct.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from inventory.archive import ArchiveIn
from loans import activities_export, charter, mediation, reminders
from loans import archive as archive_service
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import LENDING, MANAGERS


class CharterController(Controller):
    path = "/api/v1/charters"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def list_charters(self) -> list[charter.CharterOut]:
        return [charter.charter_out(row) for row in await charter.list_versions()]

    @get("/current", opt={"roles": LENDING}, responses=errors(409))
    async def current(self) -> charter.CharterOut:
        return charter.charter_out(await charter.in_force())

    @post("/", opt={"roles": MANAGERS}, responses=errors(422))
    async def create_version(
        self, data: JSONBody[charter.CharterIn], principal: NamedDependency[Principal]
    ) -> charter.CharterOut:
        """A new version; signed loans keep the text they were signed under."""
        return charter.charter_out(await charter.publish(data, principal.actor))

    @post(
        "/{charter_id:int}/archive",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def archive(
        self,
        charter_id: FromPath[int],
        data: JSONBody[ArchiveIn],
        principal: NamedDependency[Principal],
    ) -> charter.CharterOut:
        """Withdraw a charter version that is not in force; signed loans keep their text."""
        row = await archive_service.archive_charter(charter_id, principal.actor, data.reason)
        return charter.charter_out(row)


class SessionController(Controller):
    path = "/api/v1/sessions"
    tags = ["mediation"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def agenda(
        self,
        mediator: Annotated[str | None, QueryParameter(max_length=120)] = None,
        days: Annotated[int, QueryParameter(ge=0, le=366)] = 30,
    ) -> list[mediation.SessionOut]:
        """Planned sessions, overdue first flagged, for one mediator or all."""
        return mediation.sessions_out(await mediation.agenda(date.today(), mediator, days))

    @get("/activities", opt={"roles": LENDING}, responses=errors(422))
    async def activities(
        self,
        start: Annotated[date, QueryParameter(name="from")],
        end: Annotated[date, QueryParameter(name="to")],
        fmt: Annotated[str, QueryParameter(name="format", max_length=4)] = "xlsx",
    ) -> Response[bytes]:
        """The period's activities (sessions held, workshops) with the columns, order and labels
        of the Coop de la médiation numérique's export, as XLSX or CSV."""
        export = await activities_export.activities(start, end)
        return Response(
            activities_export.render(export, fmt),
            media_type=activities_export.MEDIA_TYPES[fmt],
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{activities_export.filename(export, fmt)}"'
                )
            },
        )

    @get("/{session_id:int}", opt={"roles": LENDING}, responses=errors(404))
    async def get_session(self, session_id: FromPath[int]) -> mediation.SessionOut:
        return mediation.session_out(await mediation.get_session(session_id))

    @post(
        "/{session_id:int}/record",
        opt={"roles": LENDING},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def record(
        self,
        session_id: FromPath[int],
        data: JSONBody[mediation.SessionRecord],
        principal: NamedDependency[Principal],
    ) -> mediation.SessionOut:
        """What happened at a planned session; the same service as the session page."""
        row = await mediation.record_session(session_id, data, principal.actor)
        return mediation.session_out(row)

    @post(
        "/{session_id:int}/correct",
        opt={"roles": LENDING},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def correct(
        self,
        session_id: FromPath[int],
        data: JSONBody[mediation.SessionRecord],
        principal: NamedDependency[Principal],
    ) -> mediation.SessionOut:
        """Correct a recorded session; the history keeps what changed (the page's service)."""
        row = await mediation.correct_session(session_id, data, principal.actor)
        return mediation.session_out(row)

    @post("/", opt={"roles": LENDING}, responses=errors(422))
    async def unplanned(
        self, data: JSONBody[mediation.UnplannedSessionIn], principal: NamedDependency[Principal]
    ) -> mediation.SessionOut:
        """A session nobody planned (someone came by), recorded at once."""
        return mediation.session_out(await mediation.add_session(data, principal.actor))

    @post("/workshops", opt={"roles": LENDING}, responses=errors(404, 422))
    async def workshop(
        self, data: JSONBody[mediation.WorkshopIn], principal: NamedDependency[Principal]
    ) -> mediation.SessionOut:
        """A collective workshop with several borrowers."""
        return mediation.session_out(await mediation.create_workshop(data, principal.actor))


@get("/api/v1/reminders", opt={"roles": LENDING}, tags=["mediation"], responses=errors())
async def reminders_today() -> mediation.RemindersOut:
    """What the daily job would send: overdue loans, overdue and upcoming sessions."""
    d = await reminders.digest(date.today())
    return mediation.reminders_out(
        d.today, d.overdue_loans, d.overdue_sessions, d.upcoming_sessions
    )
