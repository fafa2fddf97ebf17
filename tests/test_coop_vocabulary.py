"""The Coop de la médiation numérique's vocabulary and export, exactly (issue #14).

The lists below are copied from inclusion-numerique/coop-mediation-numerique at commit
46aa33bdf21c42c2d5bbb2913f5c453cca5a9542: the `@map` codes of `apps/web/prisma/schema.prisma`
(enums TypeActivite, Thematique, TypeLieu, Autonomie, Materiel, StructureDeRedirection,
NiveauAtelier, TrancheAge, Genre, StatutSocial), the labels of the `cra/fields` modules
(thematique.ts, type-lieu.ts, materiel.ts, type-activite.ts), and the headers of
`features/activites/use-cases/list/export/buildAccompagnementsWorksheet.ts`. The labels of
autonomie.ts, structures-redirection.ts, niveau-atelier.ts and the beneficiaire domain (genre,
tranche-age, statut-social) are the repository's as stored (same codes as the schema).
"""

from __future__ import annotations

import importlib
import io
import json
from datetime import date

import pytest

from loans import activities_export, coop

COOP = {
    "TypeActivite": ["individuel", "collectif"],
    "Thematique": [
        "diagnostic_numerique",
        "prendre_en_main_du_materiel",
        "maintenance_de_materiel",
        "gere_ses_contenus_numeriques",
        "navigation_sur_internet",
        "email",
        "bureautique",
        "reseaux_sociaux",
        "sante",
        "banque_et_achats_en_ligne",
        "entrepreneuriat",
        "insertion_professionnelle",
        "securite_numerique",
        "parentalite",
        "scolarite_et_numerique",
        "creer_avec_le_numerique",
        "culture_numerique",
        "intelligence_artificielle",
        "aide_aux_demarches_administratives",
        "papiers_elections_citoyennete",
        "famille_scolarite",
        "social_sante",
        "travail_formation",
        "logement",
        "transports_mobilite",
        "argent_impots",
        "justice",
        "etrangers_europe",
        "loisirs_sports_culture",
        "associations",
    ],
    "TypeLieu": ["lieu_activite", "domicile", "a_distance", "autre"],
    "Autonomie": ["entierement_accompagne", "partiellement_autonome", "autonome"],
    "Materiel": ["ordinateur", "telephone", "tablette", "autre", "aucun"],
    "StructureDeRedirection": [
        "administration",
        "mediation_numerique",
        "operateur_ou_organisme_en_charge",
        "aide_sociale",
        "insertion_professionnelle",
        "aide_aux_demarches_administratives",
        "autre",
    ],
    "NiveauAtelier": ["debutant", "intermediaire", "avance"],
    "TrancheAge": [
        "moins_de_douze",
        "douze_dix_huit",
        "dix_huit_vingt_quatre",
        "vingt_cinq_trente_neuf",
        "quarante_cinquante_neuf",
        "soixante_soixante_neuf",
        "soixante_dix_plus",
        "non_communique",
    ],
    "Genre": ["masculin", "feminin", "non_communique"],
    "StatutSocial": ["scolarise", "sans_emploi", "en_emploi", "retraite", "non_communique"],
}
# thematiquesAdministrativesLabels: the 11 administrative ones.
ADMINISTRATIVE = COOP["Thematique"][19:]
THEME_LABELS = [
    "Diagnostic numérique",
    "Prendre en main du matériel",
    "Maintenance de matériel",
    "Gérer ses contenus numériques",
    "Navigation sur internet",
    "E-mail",
    "Bureautique",
    "Réseaux sociaux communication",
    "Santé",
    "Banque et achats en ligne",
    "Accompagner un professionnel",
    "Insertion professionnelle",
    "Prévention en sécurité numérique",
    "Parentalité",
    "Scolarité et numérique",
    "Créer avec le numérique",
    "Culture numérique",
    "Intelligence artificielle (IA)",
    "Aide aux démarches administratives",
    "Papiers - Élections - Citoyenneté",
    "Famille - Scolarité",
    "Social - Santé",
    "Travail - Formation - Entreprise",
    "Logement",
    "Transports - Mobilité",
    "Argent - Impôts",
    "Justice",
    "Étrangers - Europe",
    "Loisirs - Sports - Culture",
    "Associations",
]
TYPE_LIEU_LABELS = {
    "lieu_activite": "Lieu d’activité",
    "autre": "Autre lieu",
    "domicile": "À domicile",
    "a_distance": "À distance",
}
MATERIEL_LABELS = ["Ordinateur", "Téléphone", "Tablette", "Autre", "Pas de matériel"]
AUTONOMIE_LABELS = ["Avec guidage", "Autonome avec guidage en cas de besoin", "Autonome"]
# buildAccompagnementsWorksheet's headers, spreads as written there.
IS_SELF_EXPORT = False
HAS_CRA_V1 = False
COOP_HEADERS = [
    "Date",
    "Enregistré le",
    "Dernière modification le",
    *(
        ["Prénom du médiateur", "Nom du médiateur", "Rôle", "ID - Conum"]
        if not IS_SELF_EXPORT
        else []
    ),
    "Type",
    "Participants",
    *(["Bénéficiaire"] if IS_SELF_EXPORT else []),
    "Canaux d’accompagnement",
    "Nom du lieu",
    "Adresse",
    "Commune",
    "Code postal",
    "Code Insee",
    "Durée (min)",
    "Nom de l’atelier",
    "Matériel numérique utilisé",
    "Thématique(s) d’accompagnement",
    "Tags",
    "Nom de la démarche administrative",
    "Niveau d’autonomie (ou de l’atelier)",
    "Bénéficiaire réorienté",
    "Structure de redirection",
    "Commune du bénéficiaire",
    "Code postal du bénéficiaire",
    "Code Insee du bénéficiaire",
    "Genre du bénéficiaire",
    "Tranche d’âge du bénéficiaire",
    "Statut du bénéficiaire",
    *(["Notes supplémentaires"] if IS_SELF_EXPORT else []),
    *(["Source de la donnée"] if HAS_CRA_V1 else []),
    "ID CRA",
]


def test_our_enums_are_the_coops_code_lists() -> None:
    ours = {
        "TypeActivite": coop.TypeActivite,
        "Thematique": coop.Thematique,
        "TypeLieu": coop.TypeLieu,
        "Autonomie": coop.Autonomie,
        "Materiel": coop.Materiel,
        "StructureDeRedirection": coop.StructureDeRedirection,
        "NiveauAtelier": coop.NiveauAtelier,
        "TrancheAge": coop.TrancheAge,
        "Genre": coop.Genre,
        "StatutSocial": coop.StatutSocial,
    }
    for name, codes in COOP.items():
        assert [member.value for member in ours[name]] == codes, name
    assert len(coop.Thematique) == 30
    assert [t.value for t in coop.AdminTheme] == ADMINISTRATIVE
    assert [t.value for t in coop.Theme] == COOP["Thematique"][:19]
    # The funder report and the pages use these names.
    assert coop.PlaceType is coop.TypeLieu
    assert list(coop.PLACE_TYPES) == list(TYPE_LIEU_LABELS)


def test_our_labels_are_the_coops() -> None:
    assert list(coop.THEMATIQUES) == COOP["Thematique"]
    assert list(coop.THEMATIQUES.values()) == THEME_LABELS
    assert coop.PLACE_TYPES == TYPE_LIEU_LABELS
    assert list(coop.MATERIEL.values()) == MATERIEL_LABELS
    assert list(coop.AUTONOMY.values()) == AUTONOMIE_LABELS
    assert coop.TYPE_ACTIVITE == {
        "individuel": "Accompagnement individuel",
        "collectif": "Atelier collectif",
    }
    assert coop.GENDERS["non_communique"] == "Non communiqué"
    assert coop.AGE_BANDS["non_communique"] == "Non communiqué"
    assert coop.SOCIAL_STATUSES["non_communique"] == "Non communiqué ou hétérogène"
    assert coop.LEVELS == {
        "debutant": "Débutant",
        "intermediaire": "Intermédiaire",
        "avance": "Avancé",
    }
    for labels, enum in (
        (coop.REDIRECTIONS, coop.StructureDeRedirection),
        (coop.AGE_BANDS, coop.TrancheAge),
        (coop.GENDERS, coop.Genre),
        (coop.SOCIAL_STATUSES, coop.StatutSocial),
    ):
        assert set(labels) == set(enum)


def test_the_session_record_takes_the_coops_codes_only() -> None:
    from inventory.commands import build
    from inventory.errors import FieldInvalid
    from loans import mediation

    for old in ("gerer_ses_contenus_numeriques", "reseaux_sociaux_communication"):
        with pytest.raises(FieldInvalid):
            build(mediation.SessionRecord, {"status": "done", "themes": [old]}, strict=False)
    with pytest.raises(FieldInvalid):
        build(mediation.SessionRecord, {"status": "done", "autonomy": "avec_guidage"}, strict=False)
    record = build(
        mediation.SessionRecord,
        {"status": "done", "themes": ["reseaux_sociaux"], "autonomy": "entierement_accompagne"},
        strict=False,
    )
    assert record.age_band == record.gender == record.social_status == "non_communique"


def test_the_export_header_is_the_coops_in_order() -> None:
    assert activities_export.HEADERS == COOP_HEADERS
    empty = activities_export.Activities(
        start=date(2026, 1, 1),
        end=date(2026, 1, 31),
        rows=[],
    )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(activities_export.to_xlsx(empty)))["Activités"]
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == COOP_HEADERS
    text = activities_export.to_csv(empty).decode("utf-8-sig")
    assert text.splitlines()[0].split(";") == COOP_HEADERS


MIGRATION = "loans.piccolo_migrations.loans_2026_11_30t19_28_22_113467"


@pytest.mark.db
def test_the_migration_rewrites_the_old_codes(db: None) -> None:
    """Rows written with our old codes take the Coop's; other codes are left as they were."""
    from piccolo.engine import engine_finder
    from piccolo.engine.postgres import PostgresEngine

    from loans.tables import MediationSession
    from tests.support import run

    migration = importlib.import_module(MIGRATION)
    old = [
        "gerer_ses_contenus_numeriques",
        "email",
        "reseaux_sociaux_communication",
        "accompagner_un_professionnel",
        "prevention_en_securite_numerique",
    ]

    async def scenario() -> list[dict]:
        for themes, autonomy in ((old, "avec_guidage"), (["sante"], "autonome"), ([], "")):
            await MediationSession.insert(
                MediationSession(
                    status="done" if themes else "missed",
                    label="ancienne",
                    themes=json.dumps(themes),
                    autonomy=autonomy,
                )
            )
        engine = engine_finder()
        assert engine is not None
        for statement in migration.recode_statements(isinstance(engine, PostgresEngine)):
            await engine.run_ddl(statement)
        return await (
            MediationSession.select(MediationSession.themes, MediationSession.autonomy)
            .order_by(MediationSession.id)
            .output(load_json=True)
        )

    rows = run(scenario())
    assert rows[0] == {
        "themes": [
            "gere_ses_contenus_numeriques",
            "email",
            "reseaux_sociaux",
            "entrepreneuriat",
            "securite_numerique",
        ],
        "autonomy": "entierement_accompagne",
    }
    assert rows[1] == {"themes": ["sante"], "autonomy": "autonome"}
    assert rows[2] == {"themes": [], "autonomy": ""}
    assert {r["autonomy"] for r in rows} <= {*coop.Autonomie, ""}
    assert {t for r in rows for t in r["themes"]} <= set(coop.Theme)
