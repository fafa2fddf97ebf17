"""Words for the identifiers stored in the database, by vocabulary: `{{ value | label("event") }}`.

French here, English through the catalog. A value missing from its vocabulary is shown as is, and
the page crawl test fails on it. Where a domain module already names its values in French, the
vocabulary is built from it, so a value and its words live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.states import KIND_LABELS_FR, N_, RETIREMENT_LABELS_FR, STATE_LABELS_FR
from loans.checkout import METHODS as SIGNATURE_METHODS
from loans.checkout import SIGNER_ROLES
from loans.mediation import AUTONOMY, PLACE_TYPES, THEMES
from loans.mediation import STATUSES as SESSION_STATUSES
from loans.memberships import EVENT_LABELS as MONEY_EVENTS
from web.roles import ROLE_LABELS_FR


def _words(vocabulary: Mapping[Any, str]) -> dict[str, str]:
    """A domain's vocabulary (its keys may be StrEnum members) keyed by the stored text."""
    return {str(value): words for value, words in vocabulary.items()}


# What happened to a device or a record, as its history shows it (a past fact, not a button).
EVENTS = {
    # Intake and workshop
    "registered": N_("Reçu au don"),
    "triage": N_("Trié : à effacer"),
    "disk_sanitized": N_("Effacement d'un disque"),
    "sanitization_started": N_("Effacement commencé"),
    "sanitization_attached": N_("Relevé d'effacement rattaché"),
    "hardware_inventoried": N_("Inventaire matériel"),
    **MONEY_EVENTS,
    "certificate_issued": N_("Certificat d'effacement émis"),
    "wipe_passed": N_("Effacement réussi"),
    "imaging_result": N_("Résultat d'installation"),
    "image_verified": N_("Installation vérifiée"),
    "qualify": N_("Contrôlé : prêt"),
    "qualify_without_storage": N_("Sans stockage : prêt"),
    "rewipe": N_("Renvoyé à l'effacement"),
    "repair_in_workshop": N_("Mis en réparation à l'atelier"),
    "repaired": N_("Réparé : prêt"),
    "retire": N_("Sorti du parc"),
    "site_changed": N_("Changement de site"),
    "audited": N_("Vu à l'inventaire"),
    "device_edited": N_("Fiche de l'appareil modifiée"),
    # Loans
    "loan_opened": N_("Prêt ouvert"),
    "loan_closed": N_("Prêt clos"),
    "checkout": N_("Prêté"),
    "check_in": N_("Retour enregistré"),
    "return_end": N_("Rendu en fin de prêt"),
    "return_without_storage": N_("Rendu (sans stockage)"),
    "repair_during_loan": N_("En réparation pendant le prêt"),
    "repaired_to_borrower": N_("Réparé : rendu à l'emprunteur"),
    "swap_out": N_("Échangé : à effacer"),
    "declare_lost": N_("Déclaré perdu ou volé"),
    # Mediation
    "session_recorded": N_("Séance enregistrée"),
    "session_corrected": N_("Séance corrigée"),
    "session_planned": N_("Séance planifiée"),
    "session_cancelled": N_("Séance annulée"),
    # People and records
    "borrower_updated": N_("Emprunteur modifié"),
    "borrower_erased": N_("Données personnelles effacées"),
    "site_archived": N_("Site archivé"),
    "donor_archived": N_("Donateur archivé"),
    "organisation_archived": N_("Organisation archivée"),
    "programme_archived": N_("Programme archivé"),
    "charter_archived": N_("Charte archivée"),
    "charter_published": N_("Charte publiée"),
    "organisation_updated": N_("Organisation modifiée"),
    "programme_created": N_("Programme créé"),
    "programme_updated": N_("Programme modifié"),
    "image_retired": N_("Image système retirée"),
    "account_created": N_("Compte créé"),
    "account_role_changed": N_("Rôle du compte changé"),
    "funder_programme_linked": N_("Financeur rattaché à un programme"),
    "funder_programme_unlinked": N_("Financeur détaché d'un programme"),
    "partner_organisation_linked": N_("Partenaire rattaché à une organisation"),
    "token_revoked": N_("Jeton d'accès révoqué"),
    "login_unlocked": N_("Connexion débloquée"),
}

LABELS: dict[str, dict[str, str]] = {
    "state": {state.value: words for state, words in STATE_LABELS_FR.items()},
    "device_kind": {kind.value: words for kind, words in KIND_LABELS_FR.items()},
    "event": EVENTS,
    "grade": {"A": N_("A"), "B": N_("B"), "C": N_("C"), "?": N_("Non évalué")},
    "transport": {
        "sata": N_("SATA"),
        "nvme": N_("NVMe"),
        "usb": N_("USB"),
        "mmc": N_("eMMC"),
        "other": N_("Autre"),
    },
    "donor_kind": {
        "company": N_("Entreprise"),
        "public_body": N_("Organisme public"),
        "school": N_("École"),
        "association": N_("Association"),
        "individual": N_("Particulier"),
    },
    # Why a device left the fleet (inventory.states.RetirementReason).
    "retirement_reason": {reason.value: words for reason, words in RETIREMENT_LABELS_FR.items()},
    # Why a device came back from a loan (DeviceReturn.reason).
    "return_reason": {
        "end": N_("Fin de prêt"),
        "repair": N_("Réparation"),
        "swap": N_("Échange"),
        "lost": N_("Perdu"),
        "stolen": N_("Volé"),
    },
    # How a device left its loan (LoanDevice.outcome).
    "loan_outcome": {
        "returned": N_("Rendu"),
        "repair": N_("En réparation"),
        "swapped": N_("Échangé"),
        "lost": N_("Perdu"),
        "stolen": N_("Volé"),
    },
    "loan_status": {"open": N_("En cours"), "closed": N_("Clos")},
    "repair_outcome": {
        "": N_("En cours"),
        "repaired": N_("Réparé"),
        "swapped": N_("Échangé"),
        "not_repairable": N_("Non réparable"),
    },
    "session_status": _words(SESSION_STATUSES),
    "autonomy": _words(AUTONOMY),
    "place_type": _words(PLACE_TYPES),
    "theme": _words(THEMES),
    "signer_role": _words(SIGNER_ROLES),
    "signature_method": {**_words(SIGNATURE_METHODS), "link": N_("Signature par lien")},
    "organisation_kind": {
        "school": N_("École"),
        "college": N_("Collège"),
        "social_centre": N_("Centre social"),
        "association": N_("Association"),
    },
    "borrower_kind": {"household": N_("Foyer"), "organisation": N_("Organisation")},
    # A sanitization record (provisioning.tables.Status, MethodType).
    "record_outcome": {
        "running": N_("En cours"),
        "passed": N_("Réussi"),
        "failed": N_("Échoué"),
        "interrupted": N_("Interrompu"),
    },
    "wipe_method": {"clear": N_("Effacement simple (Clear)"), "purge": N_("Purge")},
    # A deployment of a system image (provisioning.imaging.tables.JobStatus).
    "job_status": {
        "queued": N_("En attente"),
        "running": N_("En cours"),
        "passed": N_("Réussie"),
        "failed": N_("Échouée"),
    },
    "role": {role.value: words for role, words in ROLE_LABELS_FR.items()},
    "document_kind": {
        "signed_charter": N_("Charte signée"),
        "signature": N_("Signature"),
        "export": N_("Export"),
    },
}
