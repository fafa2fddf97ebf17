"""Intake: sites, donors, donations, and the asset tags allocated to what arrives."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from inventory import config
from inventory.db import write_transaction
from inventory.devices import now, write_event
from inventory.errors import Conflict, Invalid
from inventory.history import REGISTERED
from inventory.kinds import parse_kind
from inventory.states import DeviceKind, DeviceState, DonorKind
from inventory.tables import Device, Donation, Donor, Site, TagCounter
from inventory.tags import format_tag, parse_tag

MAX_DEVICES_PER_DONATION = 2000


@dataclass(frozen=True)
class DeviceSpec:
    """What is known of a device at intake; everything but the kind may be blank."""

    kind: str = DeviceKind.laptop
    brand: str = ""
    model: str = ""
    serial: str = ""


async def create_site(name: str, address: str = "", phone: str = "") -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise Invalid("Le nom du site est obligatoire.")
    if await Site.exists().where(Site.name == name):
        raise Invalid(f"Le site « {name} » existe déjà.")
    rows = await Site.insert(Site(name=name, address=address, phone=phone)).returning(
        *Site.all_columns()
    )
    return rows[0]


@dataclass(frozen=True)
class DonorIn:
    name: str
    kind: str
    contact_email: str = ""


def check_donor(data: DonorIn) -> DonorIn:
    """The donor as it will be stored, or Invalid with a sentence; writes nothing."""
    name = data.name.strip()
    if not name:
        raise Invalid("Le nom du donateur est obligatoire.")
    if data.kind not in DonorKind.__members__.values():
        raise Invalid(
            "Type de donateur inconnu : entreprise (company), organisme public (public_body), "
            "école (school), association ou particulier (individual)."
        )
    return DonorIn(name=name, kind=data.kind, contact_email=data.contact_email.strip())


async def _insert_donor(data: DonorIn) -> dict[str, Any]:
    rows = await Donor.insert(
        Donor(name=data.name, kind=data.kind, contact_email=data.contact_email, created_at=now())
    ).returning(*Donor.all_columns())
    return rows[0]


async def create_donor(name: str, kind: str, contact_email: str = "") -> dict[str, Any]:
    return await _insert_donor(check_donor(DonorIn(name, kind, contact_email)))


async def allocate_tags(count: int) -> list[str]:
    """Reserve `count` consecutive tag numbers; call inside a write transaction.

    One UPDATE ... RETURNING bumps the counter: the row lock (PostgreSQL) or the write lock
    (SQLite) makes concurrent intakes queue instead of sharing numbers.
    """
    prefix = config.tag_prefix()
    for _ in range(2):
        rows = (
            await TagCounter.update({TagCounter.last_value: TagCounter.last_value + count})
            .where(TagCounter.prefix == prefix)
            .returning(TagCounter.last_value)
        )
        if rows:
            last = rows[0]["last_value"]
            return [format_tag(prefix, n) for n in range(last - count + 1, last + 1)]
        await TagCounter.insert(TagCounter(prefix=prefix, last_value=0)).on_conflict(
            action="DO NOTHING"
        )
    raise RuntimeError("tag counter row vanished")


async def register_donation(
    *,
    donor_id: int | None = None,
    new_donor: DonorIn | None = None,
    site_id: int,
    received_on: date,
    devices: list[DeviceSpec],
    actor: str,
    notes: str = "",
    weee_reference: str = "",
) -> dict[str, Any]:
    """Record a lot and its devices, each with a fresh tag and its intake event, in one go.

    A donor named for the first time (`new_donor`) is created in the same transaction.
    """
    if (donor_id is None) == (new_donor is None):
        raise Invalid("Choisissez un donateur ou saisissez-en un nouveau.")
    donor = check_donor(new_donor) if new_donor is not None else None
    if not 1 <= len(devices) <= MAX_DEVICES_PER_DONATION:
        raise Invalid(f"Un don compte de 1 à {MAX_DEVICES_PER_DONATION} appareils.")
    devices = [replace(spec, kind=parse_kind(spec.kind)) for spec in devices]
    if received_on > date.today():
        raise Invalid("La date de réception ne peut pas être dans le futur.")
    async with write_transaction(Donation):
        site = await Site.select(Site.name, Site.archived_at).where(Site.id == site_id).first()
        if site is None:
            raise Invalid(f"Site {site_id} inconnu.")
        if site["archived_at"] is not None:
            raise Invalid(f"Le site « {site['name']} » est archivé : il ne reçoit plus de dons.")
        if donor is not None:
            donor_id = (await _insert_donor(donor))["id"]
        else:
            known = await Donor.select(Donor.name, Donor.archived_at).where(Donor.id == donor_id)
            if not known:
                raise Invalid(f"Donateur {donor_id} inconnu.")
            if known[0]["archived_at"] is not None:
                raise Invalid(
                    f"Le donateur « {known[0]['name']} » est archivé : rouvrez sa fiche ou "
                    "choisissez-en un autre."
                )
        donation = (
            await Donation.insert(
                Donation(
                    donor=donor_id,
                    site=site_id,
                    received_on=received_on,
                    notes=notes,
                    weee_reference=weee_reference,
                    created_at=now(),
                )
            ).returning(*Donation.all_columns())
        )[0]
        tags = await allocate_tags(len(devices))
        stamp = now()
        rows = await Device.insert(
            *[
                Device(
                    asset_tag=tag,
                    kind=spec.kind,
                    brand=spec.brand.strip(),
                    model=spec.model.strip(),
                    serial=spec.serial.strip(),
                    state=DeviceState.received,
                    donation=donation["id"],
                    site=site_id,
                    facts={},
                    version=1,
                    created_at=stamp,
                    updated_at=stamp,
                )
                for tag, spec in zip(tags, devices, strict=True)
            ]
        ).returning(Device.id, Device.asset_tag)
        for row in rows:
            await write_event(
                row["id"],
                actor,
                REGISTERED,
                None,
                DeviceState.received,
                {"donation_id": donation["id"], "custody_change": True},
            )
        return {**donation, "tags": [r["asset_tag"] for r in rows]}


async def register_tagged_device(
    code: str, donation_id: int, spec: DeviceSpec, actor: str
) -> dict[str, Any]:
    """Register a device whose label was printed in advance (a valid tag not yet in the base)."""
    tag = parse_tag(code)
    if tag.prefix != config.tag_prefix():
        raise Invalid(f"L'étiquette {tag} porte le préfixe d'un autre atelier.")
    spec = replace(spec, kind=parse_kind(spec.kind))
    async with write_transaction(Device):
        if await Device.exists().where(Device.asset_tag == str(tag)):
            raise Conflict(f"L'étiquette {tag} est déjà enregistrée.")
        donation = await Donation.select().where(Donation.id == donation_id).first()
        if donation is None:
            raise Invalid(f"Don {donation_id} inconnu.")
        # Keep the sequence clear of pre-printed numbers: later intakes start after them.
        await allocate_tags(0)
        await TagCounter.update({TagCounter.last_value: tag.number}).where(
            (TagCounter.prefix == tag.prefix) & (TagCounter.last_value < tag.number)
        )
        stamp = now()
        row = (
            await Device.insert(
                Device(
                    asset_tag=str(tag),
                    kind=spec.kind,
                    brand=spec.brand.strip(),
                    model=spec.model.strip(),
                    serial=spec.serial.strip(),
                    state=DeviceState.received,
                    donation=donation_id,
                    site=donation["site"],
                    facts={},
                    version=1,
                    created_at=stamp,
                    updated_at=stamp,
                )
            ).returning(Device.id, Device.asset_tag)
        )[0]
        await write_event(
            row["id"],
            actor,
            REGISTERED,
            None,
            DeviceState.received,
            {"donation_id": donation_id, "custody_change": True, "preprinted_tag": True},
        )
        return row
