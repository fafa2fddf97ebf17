"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Children first, so that deleting never trips a foreign key.
TABLES = [
    "event",
    "disk",
    "device",
    "donation",
    "donor",
    "site",
    "tag_counter",
    "api_token",
    "staff_role",
    "sessions",
    "piccolo_user",
]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop: the tests stay synchronous and share no loop state."""
    return asyncio.run(coro)


async def clear_tables() -> None:
    from piccolo.engine import engine_finder
    from piccolo.engine.postgres import PostgresEngine

    engine = engine_finder()
    if isinstance(engine, PostgresEngine):
        await engine.run_ddl(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        return
    for table in TABLES:
        await engine.run_ddl(f"DELETE FROM {table}")
