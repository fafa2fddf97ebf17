"""A realistic demo dataset, built through the same services as real work."""

from __future__ import annotations

import io
import random
import secrets
from datetime import date, timedelta
from typing import Any

from PIL import Image, ImageDraw

from inventory import devices, intake
from inventory.tables import Device
from loans import borrowers, charter, checkout, programmes
from web import accounts

ACTOR = "demo"
MODELS = [
    ("laptop", "Lenovo", "ThinkPad T470"),
    ("laptop", "Dell", "Latitude 5490"),
    ("laptop", "HP", "EliteBook 840 G5"),
    ("desktop", "Dell", "OptiPlex 7050"),
    ("desktop", "HP", "ProDesk 600 G3"),
    ("screen", "Dell", "P2219H"),
]
# How many devices end in each state, and the transitions that lead there from `to_wipe`.
PATHS: list[tuple[int, list[str]]] = [
    (6, []),
    (8, ["wipe_passed"]),
    (6, ["wipe_passed", "image_verified"]),
    (10, ["wipe_passed", "image_verified", "qualify"]),
    (3, ["wipe_passed", "image_verified", "qualify", "repair_in_workshop"]),
    (2, ["retire:parts"]),
]


async def _prepare(tag: str, steps: list[str], disk_id: int) -> None:
    for step in steps:
        name, _, reason = step.partition(":")
        if name == "wipe_passed":
            # Demo devices carry a demo proof, marked as such: no certificate is ever made of it.
            await devices.record_disk_sanitized(
                disk_id, True, ACTOR, {"method": "clear", "demo": True}
            )
        if name == "image_verified":
            await devices.record_image_verified(tag, True, ACTOR, {"image": "demo", "demo": True})
        await devices.apply_transition(tag, name, ACTOR, reason=reason or None)


DEMO_CHARTER = """# Charte de prêt d'ordinateur

L'association prête un ordinateur **reconditionné**, effacé et installé sous Linux.

1. L'emprunteur prend soin du matériel et le rapporte en cas de panne : il est réparé ou échangé.
2. Deux rendez-vous d'accompagnement sont proposés : la prise en main, puis les usages.
3. En fin de prêt, l'ordinateur est rendu avec son chargeur ; ses données seront effacées.
"""
HOUSEHOLDS = [
    ("Awa Diallo", "Vaulx-en-Velin", "69256", True, 3),
    ("Jean Martin", "Villeurbanne", "69266", False, 0),
    ("Leïla Benali", "Vénissieux", "69259", True, 2),
]


def _drawn_signature() -> bytes:
    """A stroke as the tablet's canvas sends it (demo data only)."""
    image = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 90), (70, 30), (130, 85), (280, 25)], fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def _lend_a_few(site_id: int) -> None:
    """A charter, a programme, three households, and a loan each, through the loans services."""
    await charter.create_version(
        "Charte de prêt", DEMO_CHARTER, date.today() - timedelta(days=60), ACTOR
    )
    programme = await borrowers.create_programme(
        "Coup de pouce numérique", "Département du Rhône", default_loan_days=365
    )
    # A membership programme (issue #14): the last household joins it, membership and deposit paid.
    membership = await programmes.insert(
        programmes.check(
            programmes.ProgrammeIn(
                name="Un ordinateur pour tous",
                funder="Fondation des solidarités numériques",
                deposit_cents=50_00,
                membership_required=True,
                membership_fee_cents=35_00,
                membership_validity=programmes.Validity.calendar_year,
                imaging_profile="famille",
            )
        )
    )
    paid = {
        "membership_payment": checkout.Payment.paid,
        "membership_method": checkout.PaymentMethod.cash,
        "deposit_payment": checkout.Payment.paid,
        "deposit_method": checkout.PaymentMethod.cheque,
    }
    ready = (
        await Device.select(Device.asset_tag)
        .where((Device.state == "ready") & (Device.kind == "laptop") & (Device.site == site_id))
        .order_by(Device.id)
    )
    for number, ((name, commune, insee, qpv, children), row) in enumerate(
        zip(HOUSEHOLDS, ready, strict=False)
    ):
        joins = number == len(HOUSEHOLDS) - 1
        borrower = await borrowers.create_borrower(
            borrowers.BorrowerIn(
                full_name=name,
                commune=commune,
                insee_code=insee,
                qpv_resident=qpv,
                children_count=children,
            )
        )
        request = checkout.CheckoutIn(
            borrower_id=borrower["id"],
            tags=[row["asset_tag"]],
            programme_id=membership["id"] if joins else programme["id"],
            accessories=["chargeur"],
            **(paid if joins else {}),
        )
        signature = checkout.SignatureIn(
            checkout.SignatureMethod.drawn, _drawn_signature(), name, checkout.SignerRole.self
        )
        await checkout.checkout(request, signature, ACTOR)


# What the national map of digital mediation lists of each demo site (inventory.sites.SiteIn).
DEMO_SITES: list[dict[str, Any]] = [
    {
        "postal_code": "69100",
        "commune": "Villeurbanne",
        "insee_code": "69266",
        "latitude": 45.7719,
        "longitude": 4.8902,
        "typology": ["ASSO"],
        "emails": ["atelier@reemploi.example.org"],
        "opening_hours": "Tu-Fr 14:00-18:00; Sa 10:00-12:00; PH off",
        "summary": "Ordinateurs reconditionnés prêtés ou cédés à prix solidaire, et aide pour "
        "s'en servir.",
        "services": [
            "Acquisition de matériel informatique à prix solidaire",
            "Accès internet et matériel informatique",
            "Maîtrise des outils numériques du quotidien",
        ],
        "fees": ["Gratuit sous condition"],
        "access_modes": ["Se présenter", "Téléphoner"],
        "support_modes": ["Accompagnement individuel", "Dans un atelier collectif"],
    },
    {
        "postal_code": "69120",
        "commune": "Vaulx-en-Velin",
        "insee_code": "69256",
        "typology": ["ASSO"],
        "opening_hours": "We 14:00-17:00",
        "services": ["Acquisition de matériel informatique à prix solidaire"],
        "fees": ["Gratuit sous condition"],
        "access_modes": ["Se présenter"],
        "support_modes": ["Accompagnement individuel"],
    },
]


async def load_demo(seed: int = 2026) -> str | None:
    """Create sites, donors, donations and about forty devices; return a new admin's password."""
    rng = random.Random(seed)
    lyon = await intake.create_site(
        "Atelier de Villeurbanne", "12 rue des Ateliers", "04 72 00 00 00", **DEMO_SITES[0]
    )
    await intake.create_site("Antenne Vaulx-en-Velin", "3 avenue Gabriel Péri", **DEMO_SITES[1])
    company = await intake.create_donor("Banque Rhône-Alpes (service IT)", "company")
    metropole = await intake.create_donor("Métropole de Lyon", "public_body")
    lots = []
    for donor, count, days in ((company, 24, 40), (metropole, 18, 12)):
        specs = []
        for _ in range(count):
            kind, brand, model = rng.choice(MODELS)
            serial = f"{brand[:2].upper()}{rng.randrange(10**7, 10**8)}"
            specs.append(intake.DeviceSpec(kind=kind, brand=brand, model=model, serial=serial))
        lots.append(
            await intake.register_donation(
                donor_id=donor["id"],
                site_id=lyon["id"],
                received_on=date.today() - timedelta(days=days),
                devices=specs,
                actor=ACTOR,
                weee_reference=f"DEEE-{rng.randrange(1000, 9999)}",
            )
        )
    tags = [tag for lot in lots for tag in lot["tags"]]
    queue = iter(tags)
    for count, steps in PATHS:
        for _ in range(count):
            tag = next(queue, None)
            if tag is None:
                break
            row = await Device.select().where(Device.asset_tag == tag).first()
            if row is None:
                raise LookupError(f"demo device {tag} vanished")
            if row["kind"] == "screen":
                await devices.apply_transition(tag, "qualify_without_storage", ACTOR)
                continue
            disk_id = await devices.add_disk(
                row["id"],
                model="SAMSUNG MZ7LN256",
                serial=f"S3{rng.randrange(10**9)}",
                size_bytes=256_060_514_304,
                transport="sata",
            )
            await devices.apply_transition(tag, "triage", ACTOR)
            await _prepare(tag, steps, disk_id)
    await _lend_a_few(lyon["id"])
    password = None
    try:
        password = secrets.token_urlsafe(12)
        await accounts.create_user("admin", password, "admin")
    except Exception:
        password = None
    return password
