"""Vocabularies of the inventory: device states, kinds, grades, donor kinds, retirement reasons."""

from __future__ import annotations

from enum import StrEnum


def N_(message: str) -> str:
    """Mark a string for the translation catalogs; it is translated where it is shown."""
    return message


class DeviceState(StrEnum):
    received = "received"
    to_wipe = "to_wipe"
    wiped = "wiped"
    imaged = "imaged"
    ready = "ready"
    loaned = "loaned"
    in_repair = "in_repair"
    retired = "retired"


STATE_LABELS_FR: dict[DeviceState, str] = {
    DeviceState.received: N_("Reçu"),
    DeviceState.to_wipe: N_("À effacer"),
    DeviceState.wiped: N_("Effacé"),
    DeviceState.imaged: N_("Installé"),
    DeviceState.ready: N_("Prêt"),
    DeviceState.loaned: N_("Prêté"),
    DeviceState.in_repair: N_("En réparation"),
    DeviceState.retired: N_("Sorti du parc"),
}


class DeviceKind(StrEnum):
    laptop = "laptop"
    desktop = "desktop"
    all_in_one = "all_in_one"
    tablet = "tablet"
    screen = "screen"
    dock = "dock"
    other = "other"


KIND_LABELS_FR: dict[DeviceKind, str] = {
    DeviceKind.laptop: N_("Portable"),
    DeviceKind.desktop: N_("Ordinateur fixe"),
    DeviceKind.all_in_one: N_("Tout-en-un"),
    DeviceKind.tablet: N_("Tablette"),
    DeviceKind.screen: N_("Écran"),
    DeviceKind.dock: N_("Station d'accueil"),
    DeviceKind.other: N_("Autre"),
}

KINDS_WITHOUT_STORAGE = frozenset({DeviceKind.screen, DeviceKind.dock})


class Grade(StrEnum):
    a = "A"
    b = "B"
    c = "C"
    unknown = "?"


class DonorKind(StrEnum):
    company = "company"
    public_body = "public_body"
    school = "school"
    association = "association"
    individual = "individual"


DONOR_KIND_LABELS_FR: dict[DonorKind, str] = {
    DonorKind.company: N_("Entreprise"),
    DonorKind.public_body: N_("Organisme public"),
    DonorKind.school: N_("École"),
    DonorKind.association: N_("Association"),
    DonorKind.individual: N_("Particulier"),
}


class RetirementReason(StrEnum):
    parts = "parts"
    recycled_weee = "recycled_weee"
    lost = "lost"
    stolen = "stolen"
    given = "given"
    sold = "sold"


RETIREMENT_LABELS_FR: dict[RetirementReason, str] = {
    RetirementReason.parts: N_("Pièces détachées"),
    RetirementReason.recycled_weee: N_("Recyclage DEEE"),
    RetirementReason.lost: N_("Perdu"),
    RetirementReason.stolen: N_("Volé"),
    RetirementReason.given: N_("Donné"),
    RetirementReason.sold: N_("Vendu"),
}


class Transport(StrEnum):
    sata = "sata"
    nvme = "nvme"
    usb = "usb"
    mmc = "mmc"
    other = "other"
