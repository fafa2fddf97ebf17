from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T09:56:48:284120"
VERSION = "1.38.0"
DESCRIPTION = "Login failures for throttling; session tokens stored as their SHA-256."


async def hash_clear_session_tokens() -> None:
    """Sessions opened before this version keep working: each clear token becomes its SHA-256."""
    import hashlib
    import re

    from piccolo_api.session_auth.tables import SessionsBase

    if not await SessionsBase.table_exists():
        return
    for row in await SessionsBase.select(SessionsBase.id, SessionsBase.token):
        # A clear token is 43 URL-safe characters; 64 hex digits are already a digest.
        if re.fullmatch(r"[0-9a-f]{64}", row["token"]):
            continue
        digest = hashlib.sha256(row["token"].encode()).hexdigest()
        await SessionsBase.update({SessionsBase.token: digest}).where(SessionsBase.id == row["id"])


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="web", description=DESCRIPTION)

    manager.add_table(
        class_name="LoginFailure",
        tablename="login_failure",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="LoginFailure",
        tablename="login_failure",
        column_name="username",
        db_column_name="username",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="LoginFailure",
        tablename="login_failure",
        column_name="address",
        db_column_name="address",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="LoginFailure",
        tablename="login_failure",
        column_name="at",
        db_column_name="at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_raw(hash_clear_session_tokens)

    return manager
