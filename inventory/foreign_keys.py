"""Make foreign keys `ON DELETE RESTRICT` on SQLite and PostgreSQL; called by migrations.

Piccolo cannot alter a foreign key on SQLite, so SQLite tables are rebuilt with SQLite's own
twelve-step procedure; PostgreSQL swaps the constraint. Checked-in migrations import this module:
change its behaviour only in a way that keeps old migrations correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

# table -> its foreign-key columns to switch to RESTRICT
Restrictions = dict[str, list[str]]


def _restricted_sql(create_sql: str, table: str, new_name: str, columns: list[str]) -> str:
    """The table's CREATE statement under `new_name`, with the named columns set to RESTRICT."""
    sql, renamed = re.subn(
        rf'^CREATE TABLE (IF NOT EXISTS )?"?{re.escape(table)}"?',
        f'CREATE TABLE "{new_name}"',
        create_sql,
        count=1,
    )
    if renamed != 1:
        raise RuntimeError(f"CREATE TABLE de {table} non reconnu : {create_sql[:80]}")
    for column in columns:
        pattern = rf'("{re.escape(column)}" [^,]*?REFERENCES "[^"]+" \("[^"]+"\) ON DELETE )\w+'
        sql, found = re.subn(pattern, r"\1RESTRICT", sql)
        if found != 1:
            raise RuntimeError(f"Clé étrangère {table}.{column} introuvable dans le schéma.")
    return sql


def rebuild_sqlite(path: str, restrictions: Restrictions) -> None:
    """SQLite's documented table rebuild, on a connection of its own with foreign keys off.

    `PRAGMA foreign_keys` is ignored inside a transaction, so this cannot run on the migration's
    connection; with foreign keys on, dropping the old table would cascade to every child row.
    """
    with contextlib.closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, columns in restrictions.items():
                (create_sql,) = db.execute(
                    "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
                ).fetchone()
                indexes = [
                    row[0]
                    for row in db.execute(
                        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=? "
                        "AND sql IS NOT NULL",
                        (table,),
                    )
                ]
                new_name = f"_restrict_{table}"
                db.execute(_restricted_sql(create_sql, table, new_name, columns))
                db.execute(f'INSERT INTO "{new_name}" SELECT * FROM "{table}"')
                db.execute(f'DROP TABLE "{table}"')
                db.execute(f'ALTER TABLE "{new_name}" RENAME TO "{table}"')
                for index_sql in indexes:
                    db.execute(index_sql)
            problems = db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(
                    f"Clés étrangères incohérentes après reconstruction : {problems}"
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("PRAGMA foreign_keys=ON")


async def _restrict_postgres(restrictions: Restrictions) -> None:
    """Swap each constraint for the same one with ON DELETE RESTRICT."""
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("Aucune base de données configurée (PICCOLO_CONF).")
    for table, columns in restrictions.items():
        for column in columns:
            rows: list[dict[str, Any]] | None = await engine.run_querystring(
                QueryString(
                    "SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition "
                    "FROM pg_constraint c JOIN pg_attribute a "
                    "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
                    "WHERE c.contype = 'f' AND c.conrelid = to_regclass({}) AND a.attname = {}",
                    f'"{table}"',
                    column,
                )
            )
            if rows is None or len(rows) != 1:
                raise RuntimeError(f"Clé étrangère {table}.{column} introuvable dans le schéma.")
            name, definition = rows[0]["name"], rows[0]["definition"]
            definition = re.sub(
                r" ON DELETE (CASCADE|SET NULL|SET DEFAULT|NO ACTION)", "", definition
            )
            await engine.run_ddl(
                f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", '
                f'ADD CONSTRAINT "{name}" {definition} ON DELETE RESTRICT'
            )


async def restrict_deletes(restrictions: Restrictions) -> None:
    """Make the listed foreign keys refuse the deletion of a referenced row."""
    engine = engine_finder()
    if isinstance(engine, SQLiteEngine):
        await asyncio.to_thread(rebuild_sqlite, engine.connection_kwargs["database"], restrictions)
    else:
        await _restrict_postgres(restrictions)
