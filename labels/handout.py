"""The handout sheet (fiche de remise): what the borrower takes home with the machine, as PDF/A."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from labels import barcode
from labels.layout import format_ram
from labels.pdf import render_pdf, render_pdf_async

HANDOUT_MODULE_MM = 0.33
HANDOUT_BAR_HEIGHT_MM = 12.0

DEFAULT_FIRST_LOGIN: tuple[str, ...] = (
    "Branchez le chargeur, puis allumez l'ordinateur avec le bouton marche.",
    "Sur l'écran de connexion, choisissez votre compte et tapez le mot de passe provisoire "
    "noté ci-dessous.",
    "L'ordinateur vous demande alors de choisir votre propre mot de passe : notez-le dans un "
    "endroit sûr et ne le donnez à personne, pas même à l'atelier.",
    "Connectez-vous à Internet : cliquez sur l'icône du réseau, choisissez votre box et tapez "
    "sa clé Wi-Fi (elle est écrite sous la box).",
    "Les mises à jour s'installent toutes seules : laissez faire l'ordinateur quand il le propose.",
)

DEFAULT_COMMITMENTS: tuple[str, ...] = (
    "Prendre soin de l'ordinateur et de ses accessoires ; ne pas le prêter, le donner ni le "
    "vendre : il reste la propriété de l'association.",
    "Ne pas l'ouvrir ni le faire réparer ailleurs : en cas de panne, l'atelier le répare "
    "gratuitement.",
    "Prévenir l'association sans attendre en cas de casse, de perte ou de vol (avec le "
    "récépissé de plainte pour un vol).",
    "Venir aux rendez-vous d'accompagnement proposés : prise en main, puis usages.",
    "Rendre l'ordinateur et ses accessoires à la fin du prêt ; sauvegardez vos documents "
    "avant : tout sera effacé pour le prochain bénéficiaire.",
)


@dataclass(frozen=True)
class HandoutConfig:
    """What a site's handout sheets say beyond the device: first steps, commitments, contact."""

    org_name: str = ""
    phone: str = ""
    hours: str = ""
    email: str = ""
    first_login: tuple[str, ...] = DEFAULT_FIRST_LOGIN
    commitments: tuple[str, ...] = DEFAULT_COMMITMENTS


@dataclass(frozen=True)
class HandoutData:
    """One device and the site that lends it."""

    tag: str
    kind: str = ""
    brand: str = ""
    model: str = ""
    serial: str = ""
    cpu: str = ""
    ram_mb: int = 0
    storage: str = ""
    site_name: str = ""
    site_address: str = ""
    site_phone: str = ""
    issued_on: date = field(default_factory=date.today)
    config: HandoutConfig = field(default_factory=HandoutConfig)


KIND_LABELS_FR = {
    "laptop": "Ordinateur portable",
    "desktop": "Ordinateur fixe",
    "all_in_one": "Ordinateur tout-en-un",
    "tablet": "Tablette",
    "screen": "Écran",
    "dock": "Station d'accueil",
    "other": "Autre matériel",
}


def handout_context(data: HandoutData) -> dict[str, Any]:
    """Template context: the specs table, the contact and the texts, with blanks left out."""
    specs = [
        ("Type", KIND_LABELS_FR.get(data.kind, data.kind)),
        ("Marque et modèle", " ".join(p for p in (data.brand, data.model) if p)),
        ("Numéro de série", data.serial),
        ("Processeur", data.cpu),
        ("Mémoire", format_ram(data.ram_mb)),
        ("Stockage", data.storage),
    ]
    width = barcode.code128_width(data.tag) * HANDOUT_MODULE_MM
    config = data.config
    return {
        "tag": data.tag,
        "specs": [(label, value) for label, value in specs if value],
        "barcode_svg": barcode.code128_svg(data.tag, width, HANDOUT_BAR_HEIGHT_MM),
        "org_name": config.org_name or data.site_name,
        "site_name": data.site_name,
        "site_address": data.site_address,
        "phone": config.phone or data.site_phone,
        "hours": config.hours,
        "email": config.email,
        "first_login": config.first_login,
        "commitments": config.commitments,
        "issued_on": data.issued_on.strftime("%d/%m/%Y"),
    }


def handout_pdf(data: HandoutData) -> bytes:
    """The A4 handout sheet as PDF/A: borrowers keep it for years."""
    return render_pdf("handout.html", handout_context(data), pdfa=True)


async def handout_pdf_async(data: HandoutData) -> bytes:
    """`handout_pdf` laid out in a renderer process (pages and other async code)."""
    return await render_pdf_async("handout.html", handout_context(data), pdfa=True)
