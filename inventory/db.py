"""The SQLite engine (persistent connections, writers queued in the process) and transactions
that behave the same on SQLite and PostgreSQL.

Piccolo's own SQLiteEngine opens a new connection, and a new thread, for every query, and its
writers meet only in SQLite's busy handler, which sleeps and polls. `PooledSQLiteEngine` keeps,
per event loop, one writer connection and a few reader connections (WAL: readers never wait for
the writer). A write transaction first queues on an asyncio lock (first come, first served, no
polling) and only then takes `BEGIN IMMEDIATE` on the writer; a write outside a transaction
queues the same way. Other processes (the CLI, a second server worker) still meet at SQLite's
lock, with its busy timeout.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from piccolo.columns import Column
from piccolo.columns.combination import Where
from piccolo.engine.base import validate_savepoint_name
from piccolo.engine.exceptions import TransactionError
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table

T = TypeVar("T")

log = logging.getLogger("reemploi.db")

# Readers per event loop: enough for a few pages and scans at once; each is a thread.
READERS = 4
# What a writer waits for the process's writer connection before giving up, as SQLite would.
DEFAULT_WAIT = 30.0
# A SELECT run in the event loop's thread gives up to the connection's thread after
# INLINE_CHECKS x INLINE_STEPS SQLite virtual machine steps (well under a millisecond).
INLINE_STEPS = 1000
INLINE_CHECKS = 20
# A COMMIT runs in the event loop's thread while commits on this disk take less than this
# (a running average: its fsync); past it, they go to the connection's thread.
INLINE_COMMIT_SECONDS = 0.002
# The writer checkpoints the WAL itself (not at a COMMIT run in the loop's thread): in its
# thread, after this many commits or after a transaction that wrote more than short writes.
CHECKPOINT_EVERY = 100


def write_transaction(table: type[Table]) -> Any:
    """A transaction for read-then-write work.

    On SQLite it starts IMMEDIATE, taking the write lock up front: a deferred one that reads and
    then writes fails with "database is locked" as soon as another writer got in between. With
    `PooledSQLiteEngine`, it first waits its turn in the process, then takes the lock.
    """
    engine = table._meta.db
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def contains(column: Column, text: str) -> Where:
    """Case-insensitive substring match: ILIKE on PostgreSQL, LIKE (already so) on SQLite."""
    escaped = text.replace("%", "").replace("_", "")
    pattern = f"%{escaped}%"
    if isinstance(column._meta.table._meta.db, SQLiteEngine):
        return column.like(pattern)
    return column.ilike(pattern)


def reads_only(sql: str) -> bool:
    """A statement a read-only connection may run: a plain SELECT (a WITH may write)."""
    return sql.lstrip()[:6].upper() == "SELECT"


# Writes bounded by their shape: one row inserted, or rows updated by their primary key.
_ONE_ROW_INSERT = re.compile(
    r'INSERT INTO "\w+" \([^()]*\) VALUES \([^()]*\)(?: RETURNING [^()]*)?', re.DOTALL
)
_UPDATE_BY_ID = re.compile(
    r'UPDATE "(\w+)" SET [^()]*? WHERE (?:"\1"\."id" = \?|\("\1"\."id" = \?(?: AND [^()]*)?\))'
    r"(?: RETURNING [^()]*)?",
    re.DOTALL,
)


def short_write(sql: str) -> bool:
    """A write whose cost is bounded by its shape: one row inserted with its values, or an
    update of the row with a given id (other conditions joined by AND), no subquery."""
    if " OR " in sql:
        return False
    return bool(_ONE_ROW_INSERT.fullmatch(sql) or _UPDATE_BY_ID.fullmatch(sql))


class Connection:
    """One sqlite3 connection and the one thread that runs its statements, in order.

    A short SELECT runs at once in the event loop's thread when the connection is idle: a
    trip to another thread costs more than the statement (a context switch each way, long on
    a busy machine). It runs there under a budget of SQLite steps; past it, SQLite interrupts
    it (a SELECT interrupted leaves its transaction as it was) and it runs again in the
    connection's thread, so a long query never holds up the loop.

    Inside a write transaction (WAL journal), which holds the writer connection alone, its
    BEGIN (when the lock is free: tried without waiting), its short writes (`short_write`, once
    the write lock is held) and its COMMIT (while commits stay quick on this disk) run at once
    too. What may wait or last goes to the connection's thread: a BEGIN that finds the lock
    taken, a write of another shape, a slow disk's commits, and the WAL checkpoints.
    """

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], name: str, busy_ms: int = 0
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connect = connect
        self._busy_ms = busy_ms
        self._db: sqlite3.Connection | None = None
        # Calls sent to the thread and not finished; only the loop's thread sends them.
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._checks_left = 0
        self._wal: bool | None = None
        # Running average of a COMMIT's duration; commits since the last checkpoint.
        self._commit_seconds = 0.0
        self._commits = 0

    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run `function(connection)` in the connection's thread."""
        loop = asyncio.get_running_loop()
        with self._pending_lock:
            self._pending += 1
        try:
            future = loop.run_in_executor(self._executor, self._in_thread, function)
        except BaseException:
            with self._pending_lock:
                self._pending -= 1
            raise
        return await future

    def _in_thread(self, function: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._db is None:
                self._db = self._connect()
            return function(self._db)
        finally:
            with self._pending_lock:
                self._pending -= 1

    async def execute(self, sql: str, args: Any = ()) -> list[dict[str, Any]]:
        """Run one statement and fetch its rows: a short SELECT at once, others in the thread."""
        if reads_only(sql):
            rows = self.try_inline(sql, args)
            if rows is not None:
                return rows
        return await self.call(lambda db: _fetch(db, sql, args))

    def _progress(self) -> int:
        self._checks_left -= 1
        return 1 if self._checks_left < 0 else 0

    def try_inline(self, sql: str, args: Any) -> list[dict[str, Any]] | None:
        """The rows of a read run here and now, or None: the connection is busy or not yet
        open, or the read is too long for the loop's thread."""
        db = self._idle()
        if db is None:
            return None
        self._checks_left = INLINE_CHECKS
        db.set_progress_handler(self._progress, INLINE_STEPS)
        try:
            return _fetch(db, sql, args)
        except sqlite3.OperationalError as error:
            if self._checks_left < 0 and "interrupt" in str(error):
                return None
            raise
        finally:
            db.set_progress_handler(None, 0)

    def _idle(self) -> sqlite3.Connection | None:
        """The open connection when no call is queued for its thread, else None."""
        with self._pending_lock:
            if self._pending or self._db is None:
                return None
            return self._db

    def _in_wal(self, db: sqlite3.Connection) -> bool:
        """In WAL mode a write transaction, once begun, never waits for another connection."""
        if self._wal is None:
            row = db.execute("PRAGMA journal_mode").fetchone()
            self._wal = str(next(iter(row.values()))).lower() == "wal"
        return self._wal

    def try_write_inline(self, sql: str, args: Any) -> list[dict[str, Any]] | None:
        """The rows of a short write (see `short_write`) run here and now, inside a
        transaction this connection began holding the write lock; None when it cannot."""
        db = self._idle()
        if db is None or not db.in_transaction or not self._in_wal(db):
            return None
        return _fetch(db, sql, args)

    def _timed_finish(self, db: sqlite3.Connection, commit: bool) -> bool:
        """COMMIT or ROLLBACK, its duration averaged; whether a WAL checkpoint is due."""
        started = time.perf_counter()
        _finish(db, commit)
        if not commit:
            return False
        self._commit_seconds += (time.perf_counter() - started - self._commit_seconds) / 5
        return self._committed()

    def _committed(self) -> bool:
        """Count a commit; whether a WAL checkpoint is due (the counter then starts again)."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return False
        self._commits = 0
        return True

    def finish(self, db: sqlite3.Connection, commit: bool, checkpoint: bool = False) -> None:
        """COMMIT or ROLLBACK in the connection's thread, then a WAL checkpoint if due."""
        if self._timed_finish(db, commit) or checkpoint:
            _checkpoint(db)

    def autocommit(self, db: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
        """A write outside a transaction (its own commit), in the connection's thread."""
        rows = _fetch(db, sql, args)
        if self._committed():
            _checkpoint(db)
        return rows

    def try_finish_inline(self, commit: bool) -> bool:
        """COMMIT or ROLLBACK here and now while this disk's commits are quick (a checkpoint
        due is queued to the connection's thread); False when it must go there itself."""
        if self._commit_seconds > INLINE_COMMIT_SECONDS:
            return False
        db = self._idle()
        if db is None or not self._in_wal(db):
            return False
        if self._timed_finish(db, commit):
            self.call_soon(_checkpoint)
        return True

    def call_soon(self, function: Callable[[sqlite3.Connection], None]) -> None:
        """Queue `function(connection)` to the connection's thread without waiting for it."""

        def logged(db: sqlite3.Connection) -> None:
            try:
                function(db)
            except Exception:
                log.exception("background statement failed")

        with self._pending_lock:
            self._pending += 1
        try:
            self._executor.submit(self._in_thread, logged)
        except BaseException:
            with self._pending_lock:
                self._pending -= 1
            raise

    def try_begin_inline(self, kind: str) -> bool:
        """BEGIN here and now if the database's write lock is free (no waiting in the loop's
        thread: a taken lock, held by another process, is waited for in the connection's)."""
        db = self._idle()
        if db is None or db.in_transaction:
            return False
        db.execute("PRAGMA busy_timeout = 0")
        try:
            db.execute(f"BEGIN {kind}")
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                return False
            raise
        finally:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        return True

    def close_soon(self) -> None:
        """Close from any thread or none (a loop already gone): queued, then the thread ends."""

        def close(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        with contextlib.suppress(RuntimeError):  # interpreter shutting down
            if self._db is not None:
                with self._pending_lock:
                    self._pending += 1
                self._executor.submit(self._in_thread, close)
            self._executor.shutdown(wait=False)


def _fetch(db: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
    cursor = db.execute(sql, args)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _checkpoint(db: sqlite3.Connection) -> None:
    """Copy the WAL's pages into the database without waiting for readers (as SQLite's own
    automatic checkpoint does, which the writer connection has turned off)."""
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _begin(db: sqlite3.Connection, kind: str) -> None:
    if db.in_transaction:
        # Left open by a commit or rollback that was cancelled before it ran: undo it.
        log.warning("writer connection was still in a transaction: rolled back")
        db.execute("ROLLBACK")
    db.execute(f"BEGIN {kind}")


def _finish(db: sqlite3.Connection, commit: bool) -> None:
    if not db.in_transaction:
        return
    if not commit:
        db.execute("ROLLBACK")
        return
    try:
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class _Pool:
    """The connections of one event loop: one writer behind a FIFO lock, a few readers."""

    def __init__(self, engine: PooledSQLiteEngine) -> None:
        self.engine = engine
        self.writer_lock = asyncio.Lock()
        self.writer = Connection(
            lambda: engine.open_connection(readonly=False),
            "sqlite-writer",
            busy_ms=int(float(engine.connection_kwargs.get("timeout", 5.0)) * 1000),
        )
        self.readers_free = asyncio.Semaphore(engine.readers)
        self.idle_readers: list[Connection] = []
        self.all_readers: list[Connection] = []

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[Connection]:
        try:
            async with asyncio.timeout(self.engine.wait):
                await self.writer_lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError(
                "database is locked (waited for this process's writer connection)"
            ) from None
        try:
            yield self.writer
        finally:
            self.writer_lock.release()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Connection]:
        async with self.readers_free:
            if self.idle_readers:
                reader = self.idle_readers.pop()
            else:
                reader = Connection(
                    lambda: self.engine.open_connection(readonly=True), "sqlite-reader"
                )
                self.all_readers.append(reader)
            try:
                yield reader
            finally:
                self.idle_readers.append(reader)

    def close(self) -> None:
        for connection in (self.writer, *self.all_readers):
            connection.close_soon()


class PooledTransaction(SQLiteTransaction):
    """A transaction on the writer connection, taken in turn (see the module's docstring).

    Its BEGIN goes with its first statement (one trip to the connection's thread less); a
    transaction that ran nothing sends neither BEGIN nor COMMIT.
    """

    connection: Connection  # type: ignore[assignment]
    _writing: contextlib.AbstractAsyncContextManager[Connection] | None = None
    _begun = False
    # A write ran in the connection's thread (not a short one): checkpoint after the commit.
    _heavy = False

    async def __aenter__(self) -> PooledTransaction:
        if self._parent is not None:
            return self._parent  # type: ignore[return-value]
        engine = self.engine
        assert isinstance(engine, PooledSQLiteEngine)
        writing = engine.pool().writing()
        self.connection = await writing.__aenter__()
        self._writing = writing
        self.context = engine.current_transaction.set(self)
        return self

    async def execute(self, sql: str, args: Any = ()) -> list[dict[str, Any]]:
        """Run one statement in this transaction (after its BEGIN, sent with the first one).

        Short reads and writes run at once in the loop's thread when they can (`Connection`).
        """
        connection = self.connection
        kind = self.transaction_type.value
        if not self._begun and connection.try_begin_inline(kind):
            self._begun = True
        if self._begun:
            # A deferred transaction takes the write lock at its first write, maybe waiting:
            # only an IMMEDIATE or EXCLUSIVE one holds it from its BEGIN.
            if short_write(sql) and self.transaction_type is not TransactionType.deferred:
                rows = connection.try_write_inline(sql, args)
                if rows is not None:
                    return rows
            if not (reads_only(sql) or short_write(sql)):
                self._heavy = True
            return await connection.execute(sql, args)

        def begin_then_fetch(db: sqlite3.Connection) -> list[dict[str, Any]]:
            _begin(db, kind)
            return _fetch(db, sql, args)

        self._begun = True
        if not (reads_only(sql) or short_write(sql)):
            self._heavy = True
        return await self.connection.call(begin_then_fetch)

    async def _end(self, commit: bool) -> None:
        if not self._begun:
            return
        connection = self.connection
        if not self._heavy and connection.try_finish_inline(commit):
            return
        # Shielded: once sent, a commit or rollback runs to its end even if the caller is
        # cancelled; the connection's thread runs them in order, before the next BEGIN.
        heavy = self._heavy
        await asyncio.shield(connection.call(lambda db: connection.finish(db, commit, heavy)))

    async def begin(self) -> None:
        if not self._begun:
            kind = self.transaction_type.value
            self._begun = True
            await self.connection.call(lambda db: _begin(db, kind))

    async def commit(self) -> None:
        await self._end(commit=True)
        self._committed = True

    async def rollback(self) -> None:
        await self._end(commit=False)
        self._rolled_back = True

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is not None:
            return exception is None
        writing = self._writing
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.engine.current_transaction.reset(self.context)
            self._writing = None
            if writing is not None:
                await writing.__aexit__(None, None, None)
        return exception is None

    async def savepoint(self, name: str | None = None) -> Any:
        name = name or f"savepoint_{self.get_savepoint_id()}"
        validate_savepoint_name(name)
        await self.execute(f"SAVEPOINT {name}")
        return _Savepoint(name, self)


class _Savepoint:
    def __init__(self, name: str, transaction: PooledTransaction) -> None:
        self.name = name
        self.transaction = transaction

    async def rollback_to(self) -> None:
        await self.transaction.execute(f"ROLLBACK TO SAVEPOINT {self.name}")

    async def release(self) -> None:
        await self.transaction.execute(f"RELEASE SAVEPOINT {self.name}")


_retired: collections.deque[_Pool] = collections.deque()
_reaper_lock = threading.Lock()
_reaper: list[threading.Thread] = []
REAP_EVERY_SECONDS = 0.5


def _retire(pool: _Pool) -> None:
    """Queue a pool whose loop is gone, to be closed by the reaper thread.

    This runs as a garbage-collection finalizer, which may fire in any thread in the middle of
    anything, even while that thread holds an executor's or a pool's lock: taking a lock here
    could deadlock. A deque's append takes none.
    """
    _retired.append(pool)


def _reap_forever() -> None:
    while True:
        time.sleep(REAP_EVERY_SECONDS)
        while _retired:
            _retired.popleft().close()


def _start_reaper() -> None:
    with _reaper_lock:
        if not _reaper:
            thread = threading.Thread(target=_reap_forever, name="sqlite-reaper", daemon=True)
            thread.start()
            _reaper.append(thread)


class PooledSQLiteEngine(SQLiteEngine):
    """SQLiteEngine with persistent connections per event loop and writers queued in turn.

    Each connection runs `PRAGMA foreign_keys=ON` once when opened; the connection factory
    and the busy timeout (`timeout`, for other processes) are Piccolo's connection arguments.
    """

    def __init__(self, path: str, *, readers: int = READERS, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError("SQLite 3.35 or later is needed (INSERT … RETURNING).")
        self.readers = readers
        self.wait = float(connection_kwargs.get("timeout", DEFAULT_WAIT))
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = (
            weakref.WeakKeyDictionary()
        )
        # Loops of other threads (a test client's, a CLI's run_sync) make their pools too.
        self._pools_lock = threading.Lock()

    def open_connection(self, readonly: bool) -> sqlite3.Connection:
        """A new sqlite3 connection, set up; called in the thread that will use it."""
        db = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
        db.row_factory = dict_factory
        db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            # The writer checkpoints in its own thread (Connection.finish), never at a COMMIT
            # run in the event loop's thread.
            db.execute("PRAGMA wal_autocheckpoint = 0")
        if readonly:
            # A reader cannot write by mistake: a write sent to it fails instead of skipping
            # the writers' queue.
            db.execute("PRAGMA query_only = ON")
        return db

    def pool(self) -> _Pool:
        """This event loop's connections, opened on first use; those of closed loops closed."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        with self._pools_lock:
            for other, stale in list(self._pools.items()):
                if other.is_closed():
                    stale.close()
                    del self._pools[other]
            pool = self._pools[loop] = _Pool(self)
        _start_reaper()
        # A loop dropped without being closed: its connections close with it, later and in
        # another thread (see _retire).
        weakref.finalize(loop, _retire, pool)
        return pool

    async def close_pools(self) -> None:
        """Close every connection (application shutdown); they reopen on next use."""
        with self._pools_lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()

    async def _run(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        query_id = self.get_query_id()
        if self.log_queries:
            self.print_query(query_id=query_id, query=sql)
        transaction = self.current_transaction.get()
        if isinstance(transaction, PooledTransaction):
            response = await transaction.execute(sql, args)
        elif reads_only(sql):
            async with self.pool().reading() as reader:
                response = await reader.execute(sql, args)
        else:
            async with self.pool().writing() as writer:
                response = await writer.call(lambda db: writer.autocommit(db, sql, args))
        if self.log_responses:
            self.print_response(query_id=query_id, response=response)
        return response

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False) -> Any:
        sql, args = querystring.compile_string(engine_type=self.engine_type)
        return await self._run(sql, args)

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        return await self._run(ddl, [])

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> PooledTransaction:
        current = self.current_transaction.get()
        if current is not None and not allow_nested:
            raise TransactionError(
                "A transaction is already active - nested transactions aren't allowed."
            )
        return PooledTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )
