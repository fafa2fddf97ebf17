"""Memberships and deposits (issue #14): programme fields, the Membership and Deposit tables."""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-11-30T19:27:28:380194"
VERSION = "1.38.0"
DESCRIPTION = "Memberships, deposits and the programme's imaging profile"


class Borrower(Table, tablename="borrower", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Programme(Table, tablename="programme", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Loan(Table, tablename="loan", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


def _params(**given: Any) -> dict[str, Any]:
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **given,
    }


def _fk(table: type[Table], null: bool, **given: Any) -> dict[str, Any]:
    return _params(
        references=table,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        null=null,
        **given,
    )


PROGRAMME_COLUMNS = [
    ("membership_required", Boolean, _params(default=False)),
    ("membership_fee_cents", Integer, _params(default=0)),
    ("membership_validity", Varchar, _params(length=20, default="days")),
    ("membership_days", Integer, _params(default=365)),
    ("imaging_profile", Varchar, _params(length=20, default="")),
]
MEMBERSHIP_COLUMNS = [
    ("borrower", ForeignKey, _fk(Borrower, False, index=True)),
    ("programme", ForeignKey, _fk(Programme, True)),
    ("loan", ForeignKey, _fk(Loan, True)),
    ("fee_cents", Integer, _params(default=0)),
    ("valid_from", Date, _params(default=DateNow())),
    ("valid_until", Date, _params(default=DateNow())),
    ("status", Varchar, _params(length=10, default="paid")),
    ("method", Varchar, _params(length=10, default="")),
    ("taken_by", Varchar, _params(length=120, default="")),
    ("at", Timestamptz, _params(default=TimestamptzNow())),
]
DEPOSIT_COLUMNS = [
    ("loan", ForeignKey, _fk(Loan, False, unique=True)),
    ("amount_cents", Integer, _params(default=0)),
    ("status", Varchar, _params(length=10, default="paid")),
    ("method", Varchar, _params(length=10, default="")),
    ("reason", Text, _params(default="")),
    ("taken_by", Varchar, _params(length=120, default="")),
    ("taken_at", Timestamptz, _params(default=TimestamptzNow())),
    ("changed_by", Varchar, _params(length=120, default="")),
    ("changed_at", Timestamptz, _params(null=True, default=None)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="loans", description=DESCRIPTION)
    for name, cls, params in PROGRAMME_COLUMNS:
        manager.add_column(
            table_class_name="Programme",
            tablename="programme",
            column_name=name,
            db_column_name=name,
            column_class_name=cls.__name__,
            column_class=cls,
            params=params,
            schema=None,
        )
    for class_name, tablename, columns in (
        ("Membership", "membership", MEMBERSHIP_COLUMNS),
        ("Deposit", "deposit", DEPOSIT_COLUMNS),
    ):
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, cls, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=cls.__name__,
                column_class=cls,
                params=params,
                schema=None,
            )
    return manager
