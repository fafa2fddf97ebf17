from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T16:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "A unique index on sessions.token: every request with a session cookie looks it up."

INDEX = "sessions_token_unique"


async def create_index() -> None:
    """piccolo_api's `sessions` table has no index on its token (the SHA-256 we keep)."""
    from piccolo_api.session_auth.tables import SessionsBase

    if not await SessionsBase.table_exists():
        return
    await SessionsBase.raw(f'CREATE UNIQUE INDEX IF NOT EXISTS {INDEX} ON "sessions" ("token")')


async def drop_index() -> None:
    from piccolo_api.session_auth.tables import SessionsBase

    await SessionsBase.raw(f"DROP INDEX IF EXISTS {INDEX}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="web", description=DESCRIPTION)
    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
