"""The Coop de la médiation numérique's vocabularies: its codes and French labels, exactly.

Copied from inclusion-numerique/coop-mediation-numerique at commit
46aa33bdf21c42c2d5bbb2913f5c453cca5a9542: `apps/web/prisma/schema.prisma` (the codes, the `@map`
values) and the `cra/fields`, `cra/individuel/fields`, `cra/collectif/fields` and
`beneficiaire/domain` modules (the labels, in their order). Same codes, same labels: a session
recorded here pools with the national figures and re-enters the Coop without a thought.
"""

from __future__ import annotations

from enum import StrEnum

from inventory.states import N_

COOP_COMMIT = "46aa33bdf21c42c2d5bbb2913f5c453cca5a9542"


class TypeActivite(StrEnum):
    individuel = "individuel"
    collectif = "collectif"


class Theme(StrEnum):
    """The 19 thématiques that are not administrative (the Coop's `Thematique`, first part)."""

    diagnostic_numerique = "diagnostic_numerique"
    prendre_en_main_du_materiel = "prendre_en_main_du_materiel"
    maintenance_de_materiel = "maintenance_de_materiel"
    gere_ses_contenus_numeriques = "gere_ses_contenus_numeriques"
    navigation_sur_internet = "navigation_sur_internet"
    email = "email"
    bureautique = "bureautique"
    reseaux_sociaux = "reseaux_sociaux"
    sante = "sante"
    banque_et_achats_en_ligne = "banque_et_achats_en_ligne"
    entrepreneuriat = "entrepreneuriat"
    insertion_professionnelle = "insertion_professionnelle"
    securite_numerique = "securite_numerique"
    parentalite = "parentalite"
    scolarite_et_numerique = "scolarite_et_numerique"
    creer_avec_le_numerique = "creer_avec_le_numerique"
    culture_numerique = "culture_numerique"
    intelligence_artificielle = "intelligence_artificielle"
    aide_aux_demarches_administratives = "aide_aux_demarches_administratives"


class AdminTheme(StrEnum):
    """The 11 administrative thématiques, allowed with « Aide aux démarches administratives »."""

    papiers_elections_citoyennete = "papiers_elections_citoyennete"
    famille_scolarite = "famille_scolarite"
    social_sante = "social_sante"
    travail_formation = "travail_formation"
    logement = "logement"
    transports_mobilite = "transports_mobilite"
    argent_impots = "argent_impots"
    justice = "justice"
    etrangers_europe = "etrangers_europe"
    loisirs_sports_culture = "loisirs_sports_culture"
    associations = "associations"


# The Coop's whole `Thematique` enum (30 codes), in its order.
Thematique = StrEnum("Thematique", [(t.name, t.value) for t in (*Theme, *AdminTheme)])


class TypeLieu(StrEnum):
    lieu_activite = "lieu_activite"
    domicile = "domicile"
    a_distance = "a_distance"
    autre = "autre"


PlaceType = TypeLieu


class Autonomie(StrEnum):
    entierement_accompagne = "entierement_accompagne"
    partiellement_autonome = "partiellement_autonome"
    autonome = "autonome"


Autonomy = Autonomie


class Materiel(StrEnum):
    ordinateur = "ordinateur"
    telephone = "telephone"
    tablette = "tablette"
    autre = "autre"
    aucun = "aucun"


class StructureDeRedirection(StrEnum):
    administration = "administration"
    mediation_numerique = "mediation_numerique"
    operateur_ou_organisme_en_charge = "operateur_ou_organisme_en_charge"
    aide_sociale = "aide_sociale"
    insertion_professionnelle = "insertion_professionnelle"
    aide_aux_demarches_administratives = "aide_aux_demarches_administratives"
    autre = "autre"


class NiveauAtelier(StrEnum):
    debutant = "debutant"
    intermediaire = "intermediaire"
    avance = "avance"


class TrancheAge(StrEnum):
    moins_de_douze = "moins_de_douze"
    douze_dix_huit = "douze_dix_huit"
    dix_huit_vingt_quatre = "dix_huit_vingt_quatre"
    vingt_cinq_trente_neuf = "vingt_cinq_trente_neuf"
    quarante_cinquante_neuf = "quarante_cinquante_neuf"
    soixante_soixante_neuf = "soixante_soixante_neuf"
    soixante_dix_plus = "soixante_dix_plus"
    non_communique = "non_communique"


class Genre(StrEnum):
    masculin = "masculin"
    feminin = "feminin"
    non_communique = "non_communique"


class StatutSocial(StrEnum):
    scolarise = "scolarise"
    sans_emploi = "sans_emploi"
    en_emploi = "en_emploi"
    retraite = "retraite"
    non_communique = "non_communique"


# Labels, in the order of the Coop's label objects (its forms list them so).
TYPE_ACTIVITE: dict[str, str] = {
    TypeActivite.individuel: N_("Accompagnement individuel"),
    TypeActivite.collectif: N_("Atelier collectif"),
}
THEMES: dict[str, str] = {
    Theme.diagnostic_numerique: N_("Diagnostic numérique"),
    Theme.prendre_en_main_du_materiel: N_("Prendre en main du matériel"),
    Theme.maintenance_de_materiel: N_("Maintenance de matériel"),
    Theme.gere_ses_contenus_numeriques: N_("Gérer ses contenus numériques"),
    Theme.navigation_sur_internet: N_("Navigation sur internet"),
    Theme.email: N_("E-mail"),
    Theme.bureautique: N_("Bureautique"),
    Theme.reseaux_sociaux: N_("Réseaux sociaux communication"),
    Theme.sante: N_("Santé"),
    Theme.banque_et_achats_en_ligne: N_("Banque et achats en ligne"),
    Theme.entrepreneuriat: N_("Accompagner un professionnel"),
    Theme.insertion_professionnelle: N_("Insertion professionnelle"),
    Theme.securite_numerique: N_("Prévention en sécurité numérique"),
    Theme.parentalite: N_("Parentalité"),
    Theme.scolarite_et_numerique: N_("Scolarité et numérique"),
    Theme.creer_avec_le_numerique: N_("Créer avec le numérique"),
    Theme.culture_numerique: N_("Culture numérique"),
    Theme.intelligence_artificielle: N_("Intelligence artificielle (IA)"),
    Theme.aide_aux_demarches_administratives: N_("Aide aux démarches administratives"),
}
ADMIN_THEMES: dict[str, str] = {
    AdminTheme.papiers_elections_citoyennete: N_("Papiers - Élections - Citoyenneté"),
    AdminTheme.famille_scolarite: N_("Famille - Scolarité"),
    AdminTheme.social_sante: N_("Social - Santé"),
    AdminTheme.travail_formation: N_("Travail - Formation - Entreprise"),
    AdminTheme.logement: N_("Logement"),
    AdminTheme.transports_mobilite: N_("Transports - Mobilité"),
    AdminTheme.argent_impots: N_("Argent - Impôts"),
    AdminTheme.justice: N_("Justice"),
    AdminTheme.etrangers_europe: N_("Étrangers - Europe"),
    AdminTheme.loisirs_sports_culture: N_("Loisirs - Sports - Culture"),
    AdminTheme.associations: N_("Associations"),
}
THEMATIQUES: dict[str, str] = {**THEMES, **ADMIN_THEMES}
PLACE_TYPES: dict[str, str] = {
    TypeLieu.lieu_activite: N_("Lieu d’activité"),
    TypeLieu.autre: N_("Autre lieu"),
    TypeLieu.domicile: N_("À domicile"),
    TypeLieu.a_distance: N_("À distance"),
}
TYPE_LIEU = PLACE_TYPES
AUTONOMY: dict[str, str] = {
    Autonomie.entierement_accompagne: N_("Avec guidage"),
    Autonomie.partiellement_autonome: N_("Autonome avec guidage en cas de besoin"),
    Autonomie.autonome: N_("Autonome"),
}
# The export writes the autonomy and the workshop's level as stars out of 3, as the Coop does.
AUTONOMY_STARS = {
    Autonomie.entierement_accompagne: 1,
    Autonomie.partiellement_autonome: 2,
    Autonomie.autonome: 3,
}
MATERIEL: dict[str, str] = {
    Materiel.ordinateur: N_("Ordinateur"),
    Materiel.telephone: N_("Téléphone"),
    Materiel.tablette: N_("Tablette"),
    Materiel.autre: N_("Autre"),
    Materiel.aucun: N_("Pas de matériel"),
}
REDIRECTIONS: dict[str, str] = {
    StructureDeRedirection.administration: N_("Administration (mairie, préfecture…)"),
    StructureDeRedirection.mediation_numerique: N_("Autre structure de médiation numérique"),
    StructureDeRedirection.operateur_ou_organisme_en_charge: N_(
        "Opérateur ou organisme en charge de la démarche administrative"
    ),
    StructureDeRedirection.aide_sociale: N_(
        "Structure d’aide sociale (maison des solidarités, centre social…)"
    ),
    StructureDeRedirection.insertion_professionnelle: N_(
        "Structure d’insertion professionnelle (France Travail, mission locale, chambre de "
        "commerce…)"
    ),
    StructureDeRedirection.aide_aux_demarches_administratives: N_(
        "Structure d’aide aux démarches administratives (France Services…)"
    ),
    StructureDeRedirection.autre: N_("Autre"),
}
LEVELS: dict[str, str] = {
    NiveauAtelier.debutant: N_("Débutant"),
    NiveauAtelier.intermediaire: N_("Intermédiaire"),
    NiveauAtelier.avance: N_("Avancé"),
}
LEVEL_STARS = {NiveauAtelier.debutant: 1, NiveauAtelier.intermediaire: 2, NiveauAtelier.avance: 3}
AGE_BANDS: dict[str, str] = {
    TrancheAge.soixante_dix_plus: N_("70 ans et plus"),
    TrancheAge.soixante_soixante_neuf: N_("60 - 69 ans"),
    TrancheAge.quarante_cinquante_neuf: N_("40 - 59 ans"),
    TrancheAge.vingt_cinq_trente_neuf: N_("25 - 39 ans"),
    TrancheAge.dix_huit_vingt_quatre: N_("18 - 24 ans"),
    TrancheAge.douze_dix_huit: N_("12 - 17 ans"),
    TrancheAge.moins_de_douze: N_("Moins de 12 ans"),
    TrancheAge.non_communique: N_("Non communiqué"),
}
GENDERS: dict[str, str] = {
    Genre.masculin: N_("Masculin"),
    Genre.feminin: N_("Féminin"),
    Genre.non_communique: N_("Non communiqué"),
}
SOCIAL_STATUSES: dict[str, str] = {
    StatutSocial.retraite: N_("Retraité"),
    StatutSocial.sans_emploi: N_("Sans emploi"),
    StatutSocial.en_emploi: N_("En emploi"),
    StatutSocial.scolarise: N_("Scolarisé"),
    StatutSocial.non_communique: N_("Non communiqué ou hétérogène"),
}

# Our codes before the Coop's were adopted (migration 2026-11-30, loans/piccolo_migrations).
OLD_THEME_CODES = {
    "gerer_ses_contenus_numeriques": Theme.gere_ses_contenus_numeriques,
    "reseaux_sociaux_communication": Theme.reseaux_sociaux,
    "accompagner_un_professionnel": Theme.entrepreneuriat,
    "prevention_en_securite_numerique": Theme.securite_numerique,
}
OLD_AUTONOMY_CODES = {"avec_guidage": Autonomie.entierement_accompagne}
