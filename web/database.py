"""Schema migrations, SQLite tuning, backup and restore on both engines."""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import subprocess
from pathlib import Path

from piccolo.apps.migrations.commands.forwards import run_forwards

from inventory import config
from inventory.errors import Invalid
from inventory.tables import Device


async def migrate(quiet: bool = True) -> None:
    """Apply every app's pending migrations; SQLite files are switched to WAL."""
    sink = io.StringIO() if quiet else None
    with contextlib.redirect_stdout(sink) if sink else contextlib.nullcontext():
        result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"Échec de migration : {result.message}")
    if not config.uses_postgres():
        with contextlib.closing(sqlite3.connect(config.sqlite_path())) as db:
            # WAL lets readers go on while one writer writes; the mode is kept in the file.
            db.execute("PRAGMA journal_mode=WAL")


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Invalid(f"{name} est introuvable : installez le paquet postgresql-client.")
    return path


def backup(target: Path) -> None:
    """A consistent copy of the live database, taken without stopping the server."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    if config.uses_postgres():
        subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", "--file", str(target), config.database_url()],
            check=True,
        )
        return
    with (
        contextlib.closing(sqlite3.connect(config.sqlite_path())) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)


def _check_sqlite_backup(source: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            (status,) = db.execute("PRAGMA quick_check").fetchone()
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        raise Invalid(f"{source} n'est pas une sauvegarde SQLite de Réemploi.") from None
    if status != "ok" or not {"device", "event"} <= tables:
        raise Invalid(f"{source} n'est pas une sauvegarde SQLite de Réemploi valide.")


def restore(source: Path) -> None:
    """Replace the live database's content with a backup; a bad file changes nothing."""
    source = source.resolve()
    if not source.is_file():
        raise Invalid(f"Fichier de sauvegarde introuvable : {source}")
    if config.uses_postgres():
        listing = subprocess.run(
            [_pg_tool("pg_restore"), "--list", str(source)], capture_output=True, text=True
        )
        if listing.returncode != 0 or "TABLE public device" not in listing.stdout:
            raise Invalid(f"{source} n'est pas une sauvegarde PostgreSQL de Réemploi.")
        subprocess.run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname",
                config.database_url(),
                str(source),
            ],
            check=True,
        )
        return
    _check_sqlite_backup(source)
    live = config.sqlite_path()
    live.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup_db,
        contextlib.closing(sqlite3.connect(live)) as live_db,
    ):
        backup_db.backup(live_db)
        live_db.execute("PRAGMA journal_mode=WAL")


async def is_empty() -> bool:
    return await Device.count() == 0
