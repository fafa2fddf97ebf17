"""Piccolo app registration for loans: borrowers, charters, loans, returns, repairs, mediation."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="loans",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["loans.tables"], exclude_imported=True),
    migration_dependencies=["inventory.piccolo_app"],
    commands=[],
)
