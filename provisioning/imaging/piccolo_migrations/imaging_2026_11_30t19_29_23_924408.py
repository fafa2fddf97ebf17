from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T19:29:23:924408"
VERSION = "1.38.0"
DESCRIPTION = "A deployment job names the chain it belongs to (chained deployment)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="imaging", description=DESCRIPTION)

    manager.add_column(
        table_class_name="DeploymentJob",
        tablename="deployment_job",
        column_name="chain",
        db_column_name="chain",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 40,
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

    return manager
