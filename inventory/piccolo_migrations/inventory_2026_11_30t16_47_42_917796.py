from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-30T16:47:42:917796"
VERSION = "1.38.0"
DESCRIPTION = "An index on disk.device: the transition rules read a device's disks."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inventory", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="Disk",
        tablename="disk",
        column_name="device",
        db_column_name="device",
        params={"index": True},
        old_params={"index": False},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
