"""Piccolo configuration: SQLite by default, PostgreSQL when REEMPLOI_DATABASE_URL says so."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from inventory import config


def _engine() -> PostgresEngine | SQLiteEngine:
    if config.uses_postgres():
        return PostgresEngine(config={"dsn": config.database_url()})
    path = config.sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # timeout is SQLite's busy timeout: concurrent writers wait instead of failing.
    return SQLiteEngine(path=str(path), timeout=30)


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
