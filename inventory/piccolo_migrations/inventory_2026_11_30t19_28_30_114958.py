"""Sites gain what the national "lieux de médiation numérique" schema describes (issue 14).

Hand-written: every new column has a default, so the sites already recorded stay valid.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import DoublePrecision, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T19:28:30:114958"
VERSION = "1.38.0"
DESCRIPTION = "Sites: address, commune, INSEE code, hours, services and access for the national map"

COLUMNS = [
    ("address_complement", Varchar, {"length": 200, "default": "", "null": True}),
    ("postal_code", Varchar, {"length": 5, "default": "", "null": True}),
    ("commune", Varchar, {"length": 160, "default": "", "null": True}),
    ("insee_code", Varchar, {"length": 5, "default": "", "null": True}),
    ("latitude", DoublePrecision, {"default": None, "null": True}),
    ("longitude", DoublePrecision, {"default": None, "null": True}),
    ("siret", Varchar, {"length": 14, "default": "", "null": True}),
    ("typology", Text, {"default": "", "null": True}),
    ("emails", Text, {"default": "", "null": True}),
    ("websites", Text, {"default": "", "null": True}),
    ("opening_hours", Text, {"default": "", "null": True}),
    ("summary", Varchar, {"length": 280, "default": "", "null": True}),
    ("description", Text, {"default": "", "null": True}),
    ("roaming", Varchar, {"length": 20, "default": "", "null": True}),
    ("parent_structure", Varchar, {"length": 200, "default": "", "null": True}),
    ("services", Text, {"default": "", "null": True}),
    ("publics", Text, {"default": "", "null": True}),
    ("specific_support", Text, {"default": "", "null": True}),
    ("fees", Text, {"default": "", "null": True}),
    ("national_programmes", Text, {"default": "", "null": True}),
    ("labels", Text, {"default": "", "null": True}),
    ("other_labels", Varchar, {"length": 200, "default": "", "null": True}),
    ("access_modes", Text, {"default": "", "null": True}),
    ("support_modes", Text, {"default": "", "null": True}),
    ("accessibility_url", Text, {"default": "", "null": True}),
    ("booking_url", Text, {"default": "", "null": True}),
    ("updated_at", Timestamptz, {"default": None, "null": True}),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inventory", description=DESCRIPTION)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="Site",
            tablename="site",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={
                **params,
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
