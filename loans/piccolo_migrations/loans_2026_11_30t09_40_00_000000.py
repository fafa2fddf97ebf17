"""Foreign keys restrict deletion; Organisation, Programme, Charter get archived_at (DESIGN invariant 9).

SQLite cannot alter a foreign key: its tables are rebuilt (inventory.foreign_keys). The snapshot
that `piccolo migrations new --auto` diffs against is updated by the next, faked, migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

from inventory.foreign_keys import restrict_deletes

ID = "2026-11-30T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Foreign keys restrict deletion; Organisation, Programme, Charter get archived_at"

RESTRICTIONS = {
    "borrower": ["organisation", "school"],
    "borrower_contact": ["borrower"],
    "loan": ["borrower", "programme", "charter"],
    "loan_device": ["loan", "device"],
    "signature": ["loan"],
    "device_return": ["loan", "device"],
    "repair_ticket": ["device", "loan", "swap_device"],
    "mediation_session": ["loan", "borrower", "programme"],
    "session_attendee": ["session", "borrower"],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="loans", description=DESCRIPTION)

    async def restrict() -> None:
        await restrict_deletes(RESTRICTIONS)

    manager.add_raw(restrict)

    manager.add_column(
        table_class_name="Organisation",
        tablename="organisation",
        column_name="archived_at",
        db_column_name="archived_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
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

    manager.add_column(
        table_class_name="Programme",
        tablename="programme",
        column_name="archived_at",
        db_column_name="archived_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
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

    manager.add_column(
        table_class_name="Charter",
        tablename="charter",
        column_name="archived_at",
        db_column_name="archived_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
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

    return manager
