"""The closed lists a site's public description uses, from the national "lieux de médiation
numérique" table schema v1.0.2 (LaMednum/standard-mediation-num, commit e347ff40); values are the
schema's own words, so the export copies them as they are.
"""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    demarches = "Aide aux démarches administratives"
    outils_quotidien = "Maîtrise des outils numériques du quotidien"
    insertion = "Insertion professionnelle via le numérique"
    securite = "Utilisation sécurisée du numérique"
    parentalite = "Parentalité et éducation avec le numérique"
    loisirs = "Loisirs et créations numériques"
    comprehension = "Compréhension du monde numérique"
    acces_materiel = "Accès internet et matériel informatique"
    materiel_solidaire = "Acquisition de matériel informatique à prix solidaire"


class Public(StrEnum):
    jeunes = "Jeunes"
    etudiants = "Étudiants"
    familles = "Familles et/ou enfants"
    seniors = "Seniors"
    femmes = "Femmes"


class SpecificSupport(StrEnum):
    surdite = "Surdité"
    handicaps_moteurs = "Handicaps moteurs"
    handicaps_mentaux = "Handicaps mentaux"
    illettrisme = "Illettrisme"
    anglais = "Langues étrangères (anglais)"
    autres_langues = "Langues étrangères (autres)"
    deficience_visuelle = "Déficience visuelle"


class Fee(StrEnum):
    gratuit = "Gratuit"
    gratuit_sous_condition = "Gratuit sous condition"
    payant = "Payant"


class NationalProgramme(StrEnum):
    aidants_connect = "Aidants Connect"
    bnr = "Bibliothèques numérique de référence"
    pix = "Certification PIX"
    conseillers_numeriques = "Conseillers numériques"
    emmaus_connect = "Emmaüs Connect"
    france_services = "France Services"
    grande_ecole = "Grande école du numérique"
    croix_rouge = "La Croix Rouge"
    caf = "Point d'accès numérique CAF"
    promeneurs = "Promeneurs du net"
    relais_emmaus = "Relais numérique (Emmaüs Connect)"


class Label(StrEnum):
    mon_espace_sante = "Formé à « Mon Espace Santé »"
    duplex = "Formé à « DUPLEX » (illettrisme)"
    arnia = "Arnia/MedNum BFC (Bourgogne-Franche-Comté)"
    reemploi_normandie = "Collectif ressources et acteurs réemploi (Normandie)"
    etapes = "Étapes numériques(La Poste)"
    fabriques = "Fabriques de Territoire"
    eclaireurs = "Les Éclaireurs du numérique (Drôme)"
    mes_papiers = "Mes Papiers (Métropole de Lyon)"
    ordi_3 = "ORDI 3.0"
    sud_labs = "SUD LABS (PACA)"


class AccessMode(StrEnum):
    se_presenter = "Se présenter"
    telephoner = "Téléphoner"
    courriel = "Contacter par mail"
    rdv_en_ligne = "Prendre un RDV en ligne"
    pas_de_public = "Ce lieu n'accueille pas de public"
    prescription = "Envoyer un mail avec une fiche de prescription"


class SupportMode(StrEnum):
    autonomie = "En autonomie"
    individuel = "Accompagnement individuel"
    collectif = "Dans un atelier collectif"
    distance = "À distance"


class Roaming(StrEnum):
    fixe = "Fixe"
    itinerant = "Itinérant"


class Typology(StrEnum):
    """A few of data·inclusion's structure types (the schema points there), those a reuse
    association's places are: the list is open upstream, closed here to stay valid."""

    ASSO = "ASSO"
    TIERS_LIEUX = "TIERS_LIEUX"
    EPN = "EPN"
    CSC = "CSC"
    MQ = "MQ"
    MJC = "MJC"
    BIB = "BIB"
    CCAS = "CCAS"
    MUNI = "MUNI"
    ESS = "ESS"
    AUTRE = "AUTRE"
