"""The one clock: aware UTC datetimes for events, records and jobs."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current instant in UTC (stored as such; people see it in their own time zone)."""
    return datetime.now(UTC)
