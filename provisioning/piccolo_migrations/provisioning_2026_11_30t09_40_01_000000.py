"""Snapshot only: the previous migration made these foreign keys ON DELETE RESTRICT.

Faked (recorded, never run): Piccolo's alter_column cannot change a foreign key on SQLite, so the
change itself is made by the previous migration; this one tells `--auto` it is already done.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-30T09:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Foreign keys restrict deletion (snapshot)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="provisioning", description=DESCRIPTION, fake=True
    )

    manager.alter_column(
        table_class_name="SanitizationRecord",
        tablename="sanitization_record",
        column_name="disk",
        db_column_name="disk",
        params={"on_delete": OnDelete.restrict},
        old_params={"on_delete": OnDelete.cascade},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SanitizationRecord",
        tablename="sanitization_record",
        column_name="device",
        db_column_name="device",
        params={"on_delete": OnDelete.restrict},
        old_params={"on_delete": OnDelete.cascade},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SanitizationRecord",
        tablename="sanitization_record",
        column_name="donation",
        db_column_name="donation",
        params={"on_delete": OnDelete.restrict},
        old_params={"on_delete": OnDelete.cascade},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="SanitizationRecord",
        tablename="sanitization_record",
        column_name="donor",
        db_column_name="donor",
        params={"on_delete": OnDelete.restrict},
        old_params={"on_delete": OnDelete.cascade},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
