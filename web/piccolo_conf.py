"""Piccolo configuration: SQLite by default, PostgreSQL when REEMPLOI_DATABASE_URL says so."""

from __future__ import annotations

import sqlite3

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from inventory import config
from inventory.db import PooledSQLiteEngine


class _SecureDeleteConnection(sqlite3.Connection):
    """Deleted or overwritten values are zeroed in the file, not left in free space: an erased
    borrower's name must not survive in it (invariant 6)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.execute("PRAGMA secure_delete=ON")


def _engine() -> PostgresEngine | PooledSQLiteEngine:
    settings = config.settings()
    if settings.uses_postgres:
        # web.app opens a pool per server process when REEMPLOI_DB_POOL is 1 (the default).
        return PostgresEngine(config={"dsn": settings.database_url})
    path = config.sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Persistent connections per event loop, writers queued in the process (inventory.db).
    # timeout is SQLite's busy timeout: writers of other processes wait instead of failing.
    return PooledSQLiteEngine(path=str(path), timeout=30, factory=_SecureDeleteConnection)


DB = _engine()

APP_REGISTRY = AppRegistry(
    apps=[
        "piccolo.apps.user.piccolo_app",
        "piccolo_api.session_auth.piccolo_app",
        "inventory.piccolo_app",
        "provisioning.piccolo_app",
        "provisioning.imaging.piccolo_app",
        "loans.piccolo_app",
        "web.piccolo_app",
    ]
)
