"""The Coop de la médiation numérique's codes and fields on sessions (issue #14).

New columns on MediationSession (administrative themes, démarche, matériel, redirection, commune
of the visit, the beneficiary's age band / gender / status, a workshop's level and participants),
and the codes recorded before rewritten to the Coop's (inclusion-numerique/coop-mediation-numerique,
commit 46aa33bdf21c42c2d5bbb2913f5c453cca5a9542). Events keep the codes they were written with.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON, Integer, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-30T19:28:22:113467"
VERSION = "1.38.0"
DESCRIPTION = "Coop de la médiation numérique codes and fields on sessions"

# Our codes before, and the Coop's (frozen here: the migration must not follow later code).
THEME_CODES = {
    "gerer_ses_contenus_numeriques": "gere_ses_contenus_numeriques",
    "reseaux_sociaux_communication": "reseaux_sociaux",
    "accompagner_un_professionnel": "entrepreneuriat",
    "prevention_en_securite_numerique": "securite_numerique",
}
AUTONOMY_CODES = {"avec_guidage": "entierement_accompagne"}


def recode_statements(postgres: bool) -> list[str]:
    """The UPDATEs that rewrite the old codes (themes are a JSON array of quoted strings)."""
    text = "themes::text" if postgres else "themes"
    statements = []
    for old, new in THEME_CODES.items():
        replaced = f"REPLACE({text}, '\"{old}\"', '\"{new}\"')"
        value = f"({replaced})::json" if postgres else replaced
        statements.append(
            f"UPDATE mediation_session SET themes = {value} WHERE {text} LIKE '%\"{old}\"%'"
        )
    for old, new in AUTONOMY_CODES.items():
        statements.append(
            f"UPDATE mediation_session SET autonomy = '{new}' WHERE autonomy = '{old}'"
        )
    return statements


def _params(**extra):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


COLUMNS = [
    ("admin_themes", JSON, _params(default="[]")),
    ("demarche", Varchar, _params(length=200, default="")),
    ("materiel", JSON, _params(default="[]")),
    ("redirection", Varchar, _params(length=40, default="")),
    ("redirection_note", Varchar, _params(length=200, default="")),
    ("commune_insee", Varchar, _params(length=5, default="")),
    ("age_band", Varchar, _params(length=30, default="non_communique")),
    ("gender", Varchar, _params(length=20, default="non_communique")),
    ("social_status", Varchar, _params(length=20, default="non_communique")),
    ("level", Varchar, _params(length=20, default="")),
    ("participants", Integer, _params(default=0)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="loans", description=DESCRIPTION)

    async def recode() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in recode_statements(isinstance(engine, PostgresEngine)):
            await engine.run_ddl(statement)

    manager.add_raw(recode)

    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="MediationSession",
            tablename="mediation_session",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    return manager
