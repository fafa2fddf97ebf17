"""Piccolo app registration for the web layer's tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="web",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=table_finder(modules=["web.tables"], exclude_imported=True),
    migration_dependencies=["piccolo.apps.user.piccolo_app", "loans.piccolo_app"],
    commands=[],
)
