"""Intake: sites, donors, donations, and the asset tags allocated to what arrives.

Each operation has its command here (`DonorIn`, `DonationIn`, `TaggedDeviceIn`) and its answer
(`DonorOut`, `DonationOut`); sites have theirs in `inventory.sites`. The API decodes into the
command, the pages convert their forms into it, and the service checks it again before writing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import config
from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from inventory.history import REGISTERED
from inventory.kinds import parse_kind

# Sites have their own module (their public description is long); their names stay importable here.
from inventory.sites import SiteIn as SiteIn
from inventory.sites import SiteOut as SiteOut
from inventory.sites import add_site as add_site
from inventory.sites import create_site as create_site
from inventory.sites import list_sites as list_sites
from inventory.states import DONOR_KIND_LABELS_FR, DeviceKind, DeviceState, DonorKind
from inventory.tables import Device, Donation, Donor, Site, TagCounter
from inventory.tags import format_tag, parse_tag

MAX_DEVICES_PER_DONATION = 2000

Note = Annotated[str, msgspec.Meta(max_length=2000)]
# The words people use for a kind (« PC portable », « Tour »…) are accepted, then read by
# `inventory.kinds.parse_kind`; a word naming no kind is refused with the accepted ones.
KindWords = Annotated[str, msgspec.Meta(max_length=60)]


# --- Donors -----------------------------------------------------------------------------------


class DonorIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Record a donor: a company, a public body, a school, an association or a person."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: DonorKind
    contact_email: Annotated[str, msgspec.Meta(max_length=200)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "name": "Nom du donateur",
        "kind": "Type de donateur",
        "contact_email": "Courriel de contact",
    }


class DonorOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    contact_email: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DonorOut:
        return cls(row["id"], row["name"], row["kind"], row["contact_email"])


def donor_kinds_sentence() -> str:
    """The donor kinds in words, as a refusal lists them."""
    return ", ".join(
        f"{label.lower()} ({kind.value})" for kind, label in DONOR_KIND_LABELS_FR.items()
    )


def check_donor(data: DonorIn) -> DonorIn:
    """The donor as it will be stored, or Invalid with a sentence; writes nothing."""
    trimmed = msgspec.structs.replace(
        data, name=data.name.strip(), contact_email=data.contact_email.strip()
    )
    try:
        return checked(trimmed)
    except FieldInvalid as refusal:
        if refusal.field == "kind":
            raise FieldInvalid(
                "kind", f"Type de donateur inconnu : {donor_kinds_sentence()}."
            ) from None
        raise


async def _insert_donor(data: DonorIn) -> dict[str, Any]:
    rows = await Donor.insert(
        Donor(name=data.name, kind=data.kind, contact_email=data.contact_email, created_at=now())
    ).returning(*Donor.all_columns())
    return rows[0]


async def add_donor(data: DonorIn) -> DonorOut:
    """A new donor."""
    return DonorOut.from_row(await _insert_donor(check_donor(data)))


async def create_donor(name: str, kind: str, contact_email: str = "") -> dict[str, Any]:
    """`add_donor` for code that names the fields (tests, demo): the row as a dict."""
    command = DonorIn(name=name, kind=kind, contact_email=contact_email)  # type: ignore[arg-type]
    return await _insert_donor(check_donor(command))


async def list_donors(
    limit: int, offset: int, include_archived: bool = False
) -> tuple[list[DonorOut], int]:
    """Donors that may give now, by name, and their count; archived ones on request."""
    query, count = Donor.select().order_by(Donor.name), Donor.count()
    if not include_archived:
        query = query.where(Donor.archived_at.is_null())
        count = count.where(Donor.archived_at.is_null())
    rows = await query.limit(limit).offset(offset)
    return [DonorOut.from_row(r) for r in rows], await count


# --- Donations --------------------------------------------------------------------------------


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What is known of a device at intake; everything but the kind may be blank."""

    kind: KindWords = DeviceKind.laptop.value
    brand: Annotated[str, msgspec.Meta(max_length=80)] = ""
    model: Annotated[str, msgspec.Meta(max_length=120)] = ""
    serial: Annotated[str, msgspec.Meta(max_length=80)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "kind": "Type",
        "brand": "Marque",
        "model": "Modèle",
        "serial": "Numéro de série",
    }


DeviceSpec = DeviceIn  # the name older callers (spreadsheets, demo, tests) use


class DonationIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Register a lot: from a known donor (`donor_id`) or one named now (`new_donor_name`,
    `new_donor_kind`, created with the lot; it wins over `donor_id`), with either
    `device_count` devices of one `kind` or the `devices` listed one by one."""

    received_on: date
    site_id: int | None = None
    donor_id: int | None = None
    new_donor_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    new_donor_kind: DonorKind | None = None
    notes: Note = ""
    weee_reference: Annotated[str, msgspec.Meta(max_length=80)] = ""
    device_count: Annotated[int, msgspec.Meta(ge=1, le=MAX_DEVICES_PER_DONATION)] | None = None
    kind: KindWords = DeviceKind.laptop.value
    devices: Annotated[list[DeviceIn], msgspec.Meta(max_length=MAX_DEVICES_PER_DONATION)] = []

    field_labels: ClassVar[dict[str, str]] = {
        "received_on": "Date de réception",
        "site_id": "Site de réception",
        "donor_id": "Donateur",
        "new_donor_name": "Nouveau donateur",
        "new_donor_kind": "Type du nouveau donateur",
        "notes": "Notes",
        "weee_reference": "Référence DEEE",
        "device_count": "Nombre d'appareils",
        "kind": "Type",
        "devices": "Appareils",
    }


class DonationOut(msgspec.Struct):
    id: int
    donor_id: int
    site_id: int
    received_on: date
    notes: str
    weee_reference: str
    tags: list[str] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], tags: list[str] | None = None) -> DonationOut:
        return cls(
            id=row["id"],
            donor_id=row["donor"],
            site_id=row["site"],
            received_on=row["received_on"],
            notes=row["notes"],
            weee_reference=row["weee_reference"],
            tags=tags,
        )


async def receive_donation(data: DonationIn, actor: str) -> DonationOut:
    """Register the lot a command describes (page and API alike); see `register_donation`."""
    data = checked(data)
    if data.site_id is None:
        raise FieldInvalid("site_id", "Choisissez le site de réception.")
    if bool(data.device_count) == bool(data.devices):
        raise FieldInvalid(
            "device_count",
            "Indiquez un nombre d'appareils (1 à 2000) ou la liste des appareils, pas les deux.",
        )
    new_donor, donor_id = None, data.donor_id
    if data.new_donor_name.strip():  # a donor typed on the form wins over the list's choice
        if data.new_donor_kind is None:
            raise FieldInvalid("new_donor_kind", "Choisissez le type du nouveau donateur.")
        new_donor, donor_id = DonorIn(name=data.new_donor_name, kind=data.new_donor_kind), None
    devices = data.devices or [DeviceIn(kind=data.kind)] * (data.device_count or 0)
    row = await register_donation(
        donor_id=donor_id,
        new_donor=new_donor,
        site_id=data.site_id,
        received_on=data.received_on,
        devices=devices,
        actor=actor,
        notes=data.notes.strip(),
        weee_reference=data.weee_reference.strip(),
    )
    return DonationOut.from_row(row, row["tags"])


async def get_donation(donation_id: int) -> DonationOut:
    row = await Donation.select().where(Donation.id == donation_id).first()
    if row is None:
        raise NotFound(f"Don {donation_id} inconnu.")
    return DonationOut.from_row(row)


async def list_donations(
    limit: int, offset: int, donor: int | None = None
) -> tuple[list[DonationOut], int]:
    """Lots newest first, optionally of one donor, and their count."""
    query = Donation.select().order_by(Donation.id, ascending=False)
    count = Donation.count()
    if donor is not None:
        query, count = query.where(Donation.donor == donor), count.where(Donation.donor == donor)
    rows = await query.limit(limit).offset(offset)
    return [DonationOut.from_row(r) for r in rows], await count


def _device_in(spec: DeviceIn) -> DeviceIn:
    """The device as it will be stored: checked, trimmed, its kind read from people's words."""
    spec = checked(
        msgspec.structs.replace(
            spec, brand=spec.brand.strip(), model=spec.model.strip(), serial=spec.serial.strip()
        )
    )
    return msgspec.structs.replace(spec, kind=parse_kind(spec.kind))


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
    devices = [_device_in(spec) for spec in devices]
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
    spec = _device_in(spec)
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


class TaggedDeviceIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Register one device whose label was printed in advance, as part of a known lot."""

    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    donation_id: int | None = None
    kind: KindWords = DeviceKind.laptop.value
    brand: Annotated[str, msgspec.Meta(max_length=80)] = ""
    model: Annotated[str, msgspec.Meta(max_length=120)] = ""
    serial: Annotated[str, msgspec.Meta(max_length=80)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "tag": "Étiquette",
        "donation_id": "Don",
        "kind": "Type",
        "brand": "Marque",
        "model": "Modèle",
        "serial": "Numéro de série",
    }


async def receive_tagged_device(data: TaggedDeviceIn, actor: str) -> dict[str, Any]:
    """`register_tagged_device` from its command (the intake page's second form)."""
    data = checked(data)
    if data.donation_id is None:
        raise FieldInvalid("donation_id", "Choisissez le don dont vient l'appareil.")
    spec = DeviceIn(kind=data.kind, brand=data.brand, model=data.model, serial=data.serial)
    return await register_tagged_device(data.tag, data.donation_id, spec, actor)
