"""The database path (issue 16): persistent SQLite connections, writers queued in the process,
and a session resolved in one query, its revocation still immediate."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from piccolo.engine import engine_finder

from inventory.db import PooledSQLiteEngine, reads_only, write_transaction
from inventory.tables import Site
from tests.support import run
from web import accounts
from web.tables import StaffRole

pytestmark = pytest.mark.db


def sqlite_engine() -> PooledSQLiteEngine:
    engine = engine_finder()
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.skip("SQLite's engine")
    return engine


def test_reads_only_recognises_plain_selects() -> None:
    assert reads_only('  select * FROM "device"')
    assert not reads_only("WITH x AS (SELECT 1) DELETE FROM device")
    assert not reads_only("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not reads_only('INSERT INTO "site" ("name") VALUES (?) RETURNING "id"')


def test_connections_are_kept_and_set_up_like_before(db: None) -> None:
    engine = sqlite_engine()

    async def scenario() -> dict[str, Any]:
        for n in range(50):
            await Site.insert(Site(name=f"Site {n}"))
            await Site.count()
        pool = engine.pool()
        async with write_transaction(Site):
            writer = {
                name: (await Site.raw(f"PRAGMA {name}"))[0][name]
                for name in ("secure_delete", "foreign_keys", "journal_mode", "query_only")
            }
        reader = {
            name: (await pool.idle_readers[0].execute(f"PRAGMA {name}"))[0][name]
            for name in ("secure_delete", "foreign_keys", "query_only")
        }
        return {"readers": len(pool.all_readers), "writer": writer, "reader": reader}

    found = run(scenario())
    # 100 statements ran on one writer and one reader, not on 100 new connections.
    assert found["readers"] == 1
    assert found["writer"] == {
        "secure_delete": 1,
        "foreign_keys": 1,
        "journal_mode": "wal",
        "query_only": 0,
    }
    # A reader refuses writes, so no write can skip the writers' queue.
    assert found["reader"] == {"secure_delete": 1, "foreign_keys": 1, "query_only": 1}


def test_writers_queue_in_turn_and_none_is_lost(db: None) -> None:
    """Twenty read-then-write transactions, each awaiting inside: they run one after the other,
    in the order they asked, and every increment is kept (no "database is locked")."""
    sqlite_engine()
    order: list[int] = []

    async def increment(n: int) -> None:
        async with write_transaction(Site):
            order.append(n)
            row = await Site.select(Site.phone).where(Site.name == "compteur").first()
            assert row is not None
            await asyncio.sleep(0.005)  # a request awaiting something else mid-transaction
            value = int(row["phone"]) + 1
            await Site.update({Site.phone: str(value)}).where(Site.name == "compteur")

    async def scenario() -> str:
        await Site.insert(Site(name="compteur", phone="0"))
        await asyncio.gather(*(increment(n) for n in range(20)))
        row = await Site.select(Site.phone).where(Site.name == "compteur").first()
        assert row is not None
        return row["phone"]

    assert run(scenario()) == "20"
    assert order == list(range(20))


def test_readers_do_not_wait_for_a_writer(db: None) -> None:
    sqlite_engine()

    async def scenario() -> tuple[float, int, int]:
        await Site.insert(Site(name="Avant"))
        started = asyncio.Event()
        release = asyncio.Event()

        async def writer() -> None:
            async with write_transaction(Site):
                await Site.insert(Site(name="Pendant"))
                started.set()
                await release.wait()

        task = asyncio.create_task(writer())
        await started.wait()
        begin = time.perf_counter()
        during = await Site.count()
        waited = time.perf_counter() - begin
        release.set()
        await task
        return waited, during, await Site.count()

    waited, during, after = run(scenario())
    assert during == 1 and after == 2  # the open transaction's row is not seen before COMMIT
    assert waited < 1


def test_a_failed_or_cancelled_transaction_rolls_back_and_frees_the_writer(db: None) -> None:
    sqlite_engine()

    async def scenario() -> list[str]:
        with pytest.raises(RuntimeError):
            async with write_transaction(Site):
                await Site.insert(Site(name="Annulé 1"))
                raise RuntimeError("refusé")
        entered = asyncio.Event()

        async def stuck() -> None:
            async with write_transaction(Site):
                await Site.insert(Site(name="Annulé 2"))
                entered.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(stuck())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The writer is free at once, and its connection is out of the dead transaction.
        async with asyncio.timeout(5):
            async with write_transaction(Site):
                await Site.insert(Site(name="Gardé"))
        await Site.insert(Site(name="Hors transaction"))
        return sorted(r["name"] for r in await Site.select(Site.name))

    assert run(scenario()) == ["Gardé", "Hors transaction"]


def test_each_event_loop_gets_its_own_connections(db: None) -> None:
    """Tests and the CLI run services on short-lived loops: a loop's pool dies with it."""
    engine = sqlite_engine()

    async def pool_id() -> tuple[int, int]:
        await Site.count()
        stale = sum(loop.is_closed() for loop in list(engine._pools))
        return id(engine.pool()), stale

    first, _ = run(pool_id())
    second, stale = run(pool_id())
    assert first != second
    # The first loop is closed: its connections were closed when the second pool was made.
    assert stale == 0


# ------------------------------------------------------------------ sessions, both engines


def _counting_queries(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the SQL each query of this test runs (both engines log through print_query)."""
    seen: list[str] = []
    monkeypatch.setattr(engine, "log_queries", True)
    monkeypatch.setattr(
        type(engine), "print_query", lambda self, query_id, query: seen.append(query)
    )
    return seen


@pytest.fixture
def person(db: None) -> tuple[int, str]:
    user_id = run(accounts.create_user("Camille", "un mot de passe long", "technician"))
    token = run(accounts.open_session("Camille", "un mot de passe long"))
    assert token is not None
    return user_id, token


def test_a_session_is_resolved_in_one_query(
    person: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_finder()
    assert engine is not None
    seen = _counting_queries(engine, monkeypatch)
    principal = run(accounts.session_principal(person[1]))
    monkeypatch.undo()
    assert principal is not None and principal.name == "Camille"
    assert principal.role == "technician" and principal.user_id == person[0]
    assert len(seen) == 1, seen


def test_logout_deactivation_and_role_change_take_effect_at_the_next_request(
    person: tuple[int, str],
) -> None:
    from piccolo.apps.user.tables import BaseUser

    user_id, token = person
    run(StaffRole.update({StaffRole.role: "mediator"}).where(StaffRole.user == user_id))
    principal = run(accounts.session_principal(token))
    assert principal is not None and principal.role == "mediator"
    run(BaseUser.update({BaseUser.active: False}).where(BaseUser.id == user_id))
    assert run(accounts.session_principal(token)) is None
    run(BaseUser.update({BaseUser.active: True}).where(BaseUser.id == user_id))
    assert run(accounts.session_principal(token)) is not None
    run(accounts.close_session(token))
    assert run(accounts.session_principal(token)) is None


def test_a_session_expires_and_its_idle_limit_moves_when_used(person: tuple[int, str]) -> None:
    Sessions = accounts.HashedSessions
    _, token = person
    digest = accounts.session_digest(token)
    soon = datetime.now() + timedelta(minutes=10)
    run(Sessions.update({Sessions.expiry_date: soon}).where(Sessions.token == digest))
    assert run(accounts.session_principal(token)) is not None
    row = run(Sessions.select(Sessions.expiry_date).where(Sessions.token == digest).first())
    assert row is not None and row["expiry_date"] > soon + timedelta(minutes=59)
    past = datetime.now() - timedelta(minutes=1)
    run(Sessions.update({Sessions.expiry_date: past}).where(Sessions.token == digest))
    assert run(accounts.session_principal(token)) is None
    later = datetime.now() + timedelta(hours=5)
    run(
        Sessions.update({Sessions.expiry_date: later, Sessions.max_expiry_date: past}).where(
            Sessions.token == digest
        )
    )
    assert run(accounts.session_principal(token)) is None
    assert run(accounts.session_principal("un jeton inventé")) is None


LONG_SELECT = (
    "SELECT count(*) AS n FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
    "SELECT i + 1 FROM c WHERE i < 300000) SELECT i FROM c)"
)


def test_short_reads_run_at_once_and_long_ones_go_to_the_thread(db: None) -> None:
    """A SELECT runs in the loop's thread only within its step budget; a long one is
    interrupted there and runs in the connection's thread, even inside a write transaction,
    whose writes it leaves in place."""
    engine = sqlite_engine()

    async def scenario() -> tuple[Any, Any, int, int]:
        await Site.count()  # opens a reader
        reader = engine.pool().idle_readers[0]
        short = reader.try_inline("SELECT 1 AS one", [])
        long = reader.try_inline(LONG_SELECT, [])
        async with write_transaction(Site):
            await Site.insert(Site(name="Dans la transaction"))
            counted = (await Site.raw(LONG_SELECT))[0]["n"]
            inside = await Site.count()
        return short, long, counted, inside + await Site.count()

    short, long, counted, sites = run(scenario())
    assert short == [{"one": 1}] and long is None
    assert counted == 300000 and sites == 2


def test_a_login_removes_sessions_that_can_no_longer_open(person: tuple[int, str]) -> None:
    Sessions = accounts.HashedSessions
    _, token = person
    digest = accounts.session_digest(token)
    past = datetime.now() - timedelta(minutes=1)
    run(Sessions.update({Sessions.expiry_date: past}).where(Sessions.token == digest))
    fresh = run(accounts.open_session("Camille", "un mot de passe long"))
    assert fresh is not None
    tokens = [r["token"] for r in run(Sessions.select(Sessions.token))]
    assert tokens == [accounts.session_digest(fresh)]
