"""Reading mediation sessions: one session, the agenda, the recent ones, a session's history,
and the answers the API gives (`SessionOut`, `RemindersOut`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec

from inventory.errors import NotFound
from inventory.tables import Event
from loans.coop import TypeActivite
from loans.tables import MediationSession, SessionAttendee

SESSION_EVENTS = (
    "session_recorded",
    "session_corrected",
    "session_cancelled",
    "session_planned",
)


class SessionOut(msgspec.Struct):
    """A session as the API shows it (the agenda adds `borrower_code` and `overdue`)."""

    id: int
    loan: int | None
    borrower: int | None
    programme: int | None
    label: str
    planned_on: date | None
    status: str
    held_on: date | None
    mediator: str
    place_type: str
    duration_minutes: int
    themes: list[str]
    autonomy: str
    notes: str
    collective: bool
    cancel_reason: str
    activity_type: str = TypeActivite.individuel
    admin_themes: list[str] = []
    demarche: str = ""
    materiel: list[str] = []
    redirection: str = ""
    redirection_note: str = ""
    commune_insee: str = ""
    age_band: str = "non_communique"
    gender: str = "non_communique"
    social_status: str = "non_communique"
    level: str = ""
    participants: int = 0
    attendees: list[int] = []
    borrower_code: str | None = None
    overdue: bool = False


class OverdueLoan(msgspec.Struct):
    id: int
    borrower_code: str | None
    due_on: date | None


class RemindersOut(msgspec.Struct):
    """What the daily job would send."""

    today: date
    overdue_loans: list[OverdueLoan]
    overdue_sessions: list[SessionOut]
    upcoming_sessions: list[SessionOut]


def activity_type(row: dict[str, Any]) -> TypeActivite:
    """The Coop's type of the activity: a collective workshop or one person's session."""
    return TypeActivite.collectif if row["collective"] else TypeActivite.individuel


def session_out(row: dict[str, Any]) -> SessionOut:
    """A session row (from `get_session`, `agenda`, `recent`) as the API's answer."""
    return msgspec.convert({**row, "activity_type": activity_type(row)}, SessionOut, strict=False)


def sessions_out(rows: list[dict[str, Any]]) -> list[SessionOut]:
    return [session_out(row) for row in rows]


def reminders_out(
    today: date,
    overdue_loans: list[dict[str, Any]],
    overdue_sessions: list[dict[str, Any]],
    upcoming_sessions: list[dict[str, Any]],
) -> RemindersOut:
    return RemindersOut(
        today=today,
        overdue_loans=[msgspec.convert(r, OverdueLoan) for r in overdue_loans],
        overdue_sessions=sessions_out(overdue_sessions),
        upcoming_sessions=sessions_out(upcoming_sessions),
    )


async def get_session(session_id: int) -> dict[str, Any]:
    row = await (
        MediationSession.select()
        .where(MediationSession.id == session_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(f"Séance {session_id} inconnue.")
    row["attendees"] = [
        a["borrower"]
        for a in await SessionAttendee.select(SessionAttendee.borrower).where(
            SessionAttendee.session == session_id
        )
    ]
    return row


async def agenda(today: date, mediator: str | None = None, days: int = 30) -> list[dict[str, Any]]:
    """Planned sessions up to `days` ahead, overdue first (flagged), for one mediator or all."""
    where = (MediationSession.status == "planned") & (
        MediationSession.planned_on <= today + timedelta(days=days)
    )
    if mediator:
        where &= MediationSession.mediator == mediator
    rows = await (
        MediationSession.select(
            *MediationSession.all_columns(),
            MediationSession.borrower.code.as_alias("borrower_code"),
        )
        .where(where)
        .order_by(MediationSession.planned_on)
        .output(load_json=True)
    )
    for row in rows:
        row["overdue"] = row["planned_on"] < today
    return rows


async def session_events(session_id: int) -> list[dict[str, Any]]:
    """The session's events, oldest first."""
    row = (
        await MediationSession.select(MediationSession.loan)
        .where(MediationSession.id == session_id)
        .first()
    )
    where = Event.kind.is_in(list(SESSION_EVENTS))
    where &= (
        Event.loan_id.is_null()
        if row is None or row["loan"] is None
        else (Event.loan_id == row["loan"])
    )
    events = await Event.select().where(where).order_by(Event.id).output(load_json=True)
    return [e for e in events if (e["payload"] or {}).get("session_id") == session_id]


async def last_attendance(session_id: int) -> list[int]:
    """Who came to a workshop, by the latest event that says so."""
    for event in reversed(await session_events(session_id)):
        payload = event["payload"]
        if event["kind"] == "session_corrected" and "attended" in payload.get("changes", {}):
            return payload["changes"]["attended"][1]
        if event["kind"] == "session_recorded" and "attended" in payload:
            return payload["attended"]
    return []


async def session_history(session_id: int) -> dict[str, Any]:
    """The session's events, oldest first, and who attended a workshop (latest word)."""
    return {
        "events": await session_events(session_id),
        "attended": await last_attendance(session_id),
    }


async def recent(mediator: str | None, days: int = 60) -> list[dict[str, Any]]:
    """Sessions recorded (held, missed or cancelled) in the last `days`, newest first."""
    since = date.today() - timedelta(days=days)
    where = (MediationSession.status != "planned") & (
        (MediationSession.held_on >= since) | (MediationSession.planned_on >= since)
    )
    if mediator:
        where &= MediationSession.mediator == mediator
    rows = await (
        MediationSession.select(
            *MediationSession.all_columns(),
            MediationSession.borrower.code.as_alias("borrower_code"),
        )
        .where(where)
        .order_by(MediationSession.id, ascending=False)
        .limit(100)
        .output(load_json=True)
    )
    return rows
