"""The SQLite engine's short path (issue 16): a write transaction's BEGIN, short writes and
COMMIT run in the event loop's thread when nothing can make them wait; what may wait (a write
lock held by another process, a deferred transaction's first write) goes to the connection's
thread, and the loop keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from piccolo.engine import engine_finder

import inventory.db
from inventory.db import Connection, PooledSQLiteEngine, short_write, write_transaction
from inventory.tables import Site
from tests.support import run
from web import accounts

pytestmark = pytest.mark.db


def sqlite_engine() -> PooledSQLiteEngine:
    engine = engine_finder()
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.skip("SQLite's engine")
    return engine


def counting_thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls sent to a connection's thread during the test (their function's name)."""
    calls: list[str] = []
    original = Connection.call

    async def call(self: Connection, function: Callable[[sqlite3.Connection], Any]) -> Any:
        calls.append(getattr(function, "__name__", "?"))
        return await original(self, function)

    monkeypatch.setattr(Connection, "call", call)
    return calls


def test_short_writes_are_recognised_by_their_shape() -> None:
    update = (
        'UPDATE "device" SET "state" = ?, "version" = "version" + ? WHERE ("device"."id" = ? '
        'AND "device"."version" = ?) RETURNING "version"'
    )
    assert short_write(update)
    assert short_write('UPDATE "site" SET "phone" = ? WHERE "site"."id" = ?')
    assert short_write('INSERT INTO "event" ("id","device") VALUES (null,?) RETURNING "id"')
    # Several rows, a condition that is not the id, an OR, a subquery: not bounded by shape.
    assert not short_write('INSERT INTO "event" ("id","device") VALUES (null,?),(null,?)')
    assert not short_write('UPDATE "site" SET "phone" = ? WHERE "site"."name" = ?')
    assert not short_write('UPDATE "site" SET "phone" = ? WHERE ("site"."id" = ? OR "x" = ?)')
    assert not short_write('UPDATE "site" SET "phone" = ? WHERE "site"."id" IN (?, ?)')
    assert not short_write('UPDATE "site" SET "phone" = ? WHERE "disk"."id" = ?')
    assert not short_write('INSERT INTO "site" ("name") SELECT "name" FROM "old"')
    assert not short_write('DELETE FROM "site" WHERE "site"."id" = ?')


def test_a_short_transaction_runs_without_a_trip_to_the_thread(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sqlite_engine()

    async def scenario() -> tuple[list[str], list[str]]:
        async with write_transaction(Site):  # opens the writer connection (in its thread)
            await Site.insert(Site(name="Ouverture"))
        await Site.count()  # and a reader's
        calls = counting_thread_calls(monkeypatch)
        async with write_transaction(Site):
            row = await Site.select(Site.id).where(Site.name == "Ouverture").first()
            assert row is not None
            await Site.update({Site.phone: "01"}).where(Site.id == row["id"])
            await Site.insert(Site(name="Ajouté"))
        return calls, [f"{r['name']} {r['phone']}" for r in await Site.select().order_by(Site.id)]

    calls, sites = run(scenario())
    assert calls == []
    assert sites == ["Ouverture 01", "Ajouté "]
    # Committed for every connection, not only this one.
    other = sqlite3.connect(engine.connection_kwargs["database"])
    assert other.execute("SELECT count(*) FROM site").fetchone() == (2,)
    other.close()


def test_a_write_lock_held_by_another_process_is_waited_for_off_the_loop(db: None) -> None:
    """Another process (the CLI) holds the write lock: the transaction waits for it in the
    connection's thread while the loop keeps serving, then runs."""
    engine = sqlite_engine()

    async def scenario() -> tuple[int, int]:
        async with write_transaction(Site):
            await Site.insert(Site(name="Ouverture"))
        other = sqlite3.connect(engine.connection_kwargs["database"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        async def write() -> None:
            async with write_transaction(Site):
                await Site.insert(Site(name="Après le verrou"))

        ticker = asyncio.create_task(ticking())
        task = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not task.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(task, 10)
        ticker.cancel()
        return ticks, await Site.count()

    ticks, count = run(scenario())
    assert ticks >= 10  # the loop was not blocked while the lock was held
    assert count == 2


def test_a_deferred_transaction_writes_in_the_thread(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deferred transaction takes the write lock at its first write, which may wait."""
    engine = sqlite_engine()

    async def scenario() -> list[str]:
        await Site.insert(Site(name="Ouverture"))
        calls = counting_thread_calls(monkeypatch)
        async with engine.transaction():
            await Site.insert(Site(name="Différé"))
        return calls

    calls = run(scenario())
    assert calls  # the insert (and the commit after it) went to the thread


def test_the_writer_checkpoints_the_wal_itself(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's automatic checkpoint is off on the writer (it would run in the loop's thread
    at a COMMIT); the writer runs one in its thread every CHECKPOINT_EVERY commits."""
    sqlite_engine()
    checkpoints: list[str] = []
    original = inventory.db._checkpoint

    def checkpoint(db: sqlite3.Connection) -> None:
        checkpoints.append("checkpoint")
        original(db)

    monkeypatch.setattr(inventory.db, "_checkpoint", checkpoint)
    monkeypatch.setattr(inventory.db, "CHECKPOINT_EVERY", 3)

    async def scenario() -> Any:
        for n in range(7):
            async with write_transaction(Site):
                await Site.insert(Site(name=f"Site {n}"))
        async with write_transaction(Site):
            setting = await Site.raw("PRAGMA wal_autocheckpoint")
        await asyncio.sleep(0.1)  # the last checkpoint, queued to the thread
        return setting

    assert run(scenario()) == [{"wal_autocheckpoint": 0}]
    assert len(checkpoints) >= 2


def test_slow_commits_go_to_the_thread(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sqlite_engine()

    async def scenario() -> list[str]:
        async with write_transaction(Site):
            await Site.insert(Site(name="Ouverture"))
        engine.pool().writer._commit_seconds = 1.0  # as measured on a slow disk
        calls = counting_thread_calls(monkeypatch)
        async with write_transaction(Site):
            await Site.insert(Site(name="Disque lent"))
        return calls

    assert len(run(scenario())) == 1  # the COMMIT alone


# ------------------------------------------------------------ look-ups by index, both engines


def test_a_bearer_token_is_resolved_in_one_query_and_its_revocation_is_immediate(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_finder()
    assert engine is not None
    token = run(accounts.create_token("Poste du banc", "technician"))
    seen: list[str] = []
    monkeypatch.setattr(engine, "log_queries", True)
    monkeypatch.setattr(
        type(engine), "print_query", lambda self, query_id, query: seen.append(query)
    )
    principal = run(accounts.principal_for_token(token))
    monkeypatch.undo()
    assert principal is not None
    assert (principal.name, principal.role) == ("Poste du banc", "technician")
    assert len(seen) == 1
    assert run(accounts.principal_for_token(token + "x")) is None
    run(accounts.revoke_tokens("Poste du banc", "admin"))
    assert run(accounts.principal_for_token(token)) is None


def test_session_tokens_and_disks_devices_are_indexed(db: None) -> None:
    """A session cookie is looked up by its digest on every request; the transition rules
    read a device's disks: both by an index, on both engines."""
    engine = engine_finder()
    if isinstance(engine, PooledSQLiteEngine):
        rows = run(Site.raw("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        indexes = {row["name"]: row["sql"] for row in rows}
    else:
        rows = run(Site.raw("SELECT indexname AS name, indexdef AS sql FROM pg_indexes"))
        indexes = {row["name"]: row["sql"] for row in rows}
    assert "UNIQUE" in indexes["sessions_token_unique"].upper()
    assert "token" in indexes["sessions_token_unique"]
    assert "disk_device" in indexes
