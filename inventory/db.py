"""Transactions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Where
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table


def write_transaction(table: type[Table]) -> Any:
    """A transaction for read-then-write work.

    On SQLite it starts IMMEDIATE, taking the write lock up front: a deferred one that reads and
    then writes fails with "database is locked" as soon as another writer got in between.
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
