"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# Children first, so that deleting never trips a foreign key.
TABLES = [
    "sanitization_record",
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


def run(awaitable: Awaitable[T]) -> T:
    """Await on a fresh loop (coroutines and Piccolo queries): tests stay synchronous."""

    async def wait() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # Inside a running loop (Playwright's sync API keeps one): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()


async def clear_tables() -> None:
    from piccolo.engine import engine_finder
    from piccolo.engine.postgres import PostgresEngine

    engine = engine_finder()
    if isinstance(engine, PostgresEngine):
        await engine.run_ddl(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        return
    for table in TABLES:
        await engine.run_ddl(f"DELETE FROM {table}")


async def new_donation(count: int = 1, kind: str = "laptop", actor: str = "test") -> list[str]:
    """Register a donation of `count` devices (creating a site and a donor) and return the tags."""
    from datetime import date

    from inventory import intake
    from inventory.tables import Site

    site = await Site.select().first() or await intake.create_site("Atelier de test")
    donor = await intake.create_donor("Donateur de test", "company")
    lot = await intake.register_donation(
        donor_id=donor["id"],
        site_id=site["id"],
        received_on=date.today(),
        devices=[intake.DeviceSpec(kind=kind, brand="Lenovo", model="T470")] * count,
        actor=actor,
    )
    return lot["tags"]
