"""Piccolo configuration: SQLite by default, PostgreSQL when REEMPLOI_DATABASE_URL says so."""

from __future__ import annotations

import sqlite3

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from inventory import config


class _SecureDeleteConnection(sqlite3.Connection):
    """Deleted or overwritten values are zeroed in the file, not left in free space: an erased
    borrower's name must not survive in it (invariant 6)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.execute("PRAGMA secure_delete=ON")


def _engine() -> PostgresEngine | SQLiteEngine:
    if config.uses_postgres():
        return PostgresEngine(config={"dsn": config.database_url()})
    path = config.sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # timeout is SQLite's busy timeout: concurrent writers wait instead of failing.
    return SQLiteEngine(path=str(path), timeout=30, factory=_SecureDeleteConnection)


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
