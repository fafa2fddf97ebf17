"""Foreign keys restrict deletion (DESIGN invariant 9).

SQLite cannot alter a foreign key: its tables are rebuilt (inventory.foreign_keys). The snapshot
that `piccolo migrations new --auto` diffs against is updated by the next, faked, migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from inventory.foreign_keys import restrict_deletes

ID = "2026-11-30T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Foreign keys restrict deletion"

RESTRICTIONS = {
    "deployment_job": ["device"],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="imaging", description=DESCRIPTION)

    async def restrict() -> None:
        await restrict_deletes(RESTRICTIONS)

    manager.add_raw(restrict)

    return manager
