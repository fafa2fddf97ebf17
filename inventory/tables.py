"""Piccolo tables of the inventory app.

Every foreign key restricts deletion: nothing a donor or a funder may ask about is deleted
(DESIGN invariant 9); donors and sites are archived instead (inventory.archive).
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from inventory.states import DeviceKind, DeviceState, DonorKind, Grade, Transport


class Site(Table):
    """A workshop or a place where devices are kept."""

    id: Serial

    name = Varchar(length=120, unique=True)
    address = Text(default="")
    phone = Varchar(length=40, default="")
    # Set by inventory.archive: an archived site takes no new work but stays in every history.
    archived_at = Timestamptz(null=True, default=None)
    # What the national "lieux de médiation numérique" schema describes (inventory.sites); a
    # cell of several values joins them with "|", the schema's separator. Nullable so that a
    # row written by the admin's generic form (which sends null for what it leaves out) is
    # accepted: `inventory.sites` reads null as blank and writes "".
    address_complement = Varchar(length=200, default="", null=True)
    postal_code = Varchar(length=5, default="", null=True)
    commune = Varchar(length=160, default="", null=True)
    insee_code = Varchar(length=5, default="", null=True)
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    siret = Varchar(length=14, default="", null=True)
    typology = Text(default="", null=True)
    emails = Text(default="", null=True)
    websites = Text(default="", null=True)
    opening_hours = Text(default="", null=True)
    summary = Varchar(length=280, default="", null=True)
    description = Text(default="", null=True)
    roaming = Varchar(length=20, default="", null=True)
    parent_structure = Varchar(length=200, default="", null=True)
    services = Text(default="", null=True)
    publics = Text(default="", null=True)
    specific_support = Text(default="", null=True)
    fees = Text(default="", null=True)
    national_programmes = Text(default="", null=True)
    labels = Text(default="", null=True)
    other_labels = Varchar(length=200, default="", null=True)
    access_modes = Text(default="", null=True)
    support_modes = Text(default="", null=True)
    accessibility_url = Text(default="", null=True)
    booking_url = Text(default="", null=True)
    updated_at = Timestamptz(null=True, default=None)


class Donor(Table):
    """Who gave devices: a company, a public body, a school, an association or a person."""

    id: Serial

    name = Varchar(length=200)
    kind = Varchar(length=20, choices=DonorKind)
    contact_email = Varchar(length=200, default="")
    created_at = Timestamptz()
    archived_at = Timestamptz(null=True, default=None)


class Donation(Table):
    """A lot of devices received together from one donor."""

    id: Serial

    donor = ForeignKey(references=Donor, on_delete=OnDelete.restrict, null=False)
    site = ForeignKey(references=Site, on_delete=OnDelete.restrict, null=False)
    received_on = Date()
    notes = Text(default="")
    weee_reference = Varchar(length=80, default="")
    created_at = Timestamptz()


class Device(Table):
    """One physical machine, identified for life by its asset tag."""

    id: Serial

    asset_tag = Varchar(length=20, unique=True, index=True)
    kind = Varchar(length=20, choices=DeviceKind, default=DeviceKind.laptop)
    brand = Varchar(length=80, default="")
    model = Varchar(length=120, default="")
    serial = Varchar(length=80, default="", index=True)
    cpu = Varchar(length=120, default="")
    ram_mb = Integer(default=0)
    storage_summary = Varchar(length=200, default="")
    grade = Varchar(length=1, choices=Grade, default=Grade.unknown)
    state = Varchar(length=16, choices=DeviceState, default=DeviceState.received, index=True)
    donation = ForeignKey(references=Donation, on_delete=OnDelete.restrict, null=True)
    site = ForeignKey(references=Site, on_delete=OnDelete.restrict, null=True)
    facts = JSON(default={})
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Disk(Table):
    """A storage medium, inside a device or loose on the bench."""

    id: Serial

    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True, index=True)
    model = Varchar(length=120, default="")
    serial = Varchar(length=120, default="")
    size_bytes = BigInt(default=0)
    transport = Varchar(length=10, choices=Transport, default=Transport.other)
    rotational = Boolean(default=False)


class Event(Table):
    """The append-only audit trail: who did what, when, from which state to which."""

    id: Serial

    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True, index=True)
    # Loans live in an app that inventory must not import: a plain integer keeps arrows inward.
    loan_id = Integer(null=True, index=True)
    actor = Varchar(length=120)
    at = Timestamptz(index=True)
    kind = Varchar(length=40, index=True)
    from_state = Varchar(length=16, null=True, default=None)
    to_state = Varchar(length=16, null=True, default=None)
    payload = JSON(default={})


class TagCounter(Table):
    """The last asset-tag number allocated for a prefix; bumped atomically."""

    id: Serial

    prefix = Varchar(length=4, unique=True)
    last_value = Integer(default=0)
