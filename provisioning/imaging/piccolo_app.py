"""Piccolo app registration for imaging (images, host-key pins, deployment jobs)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="imaging",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["provisioning.imaging.tables"], exclude_imported=True),
    migration_dependencies=["inventory.piccolo_app"],
    commands=[],
)
