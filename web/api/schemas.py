"""Data transfer objects of the JSON API (msgspec structs, validated by Litestar)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from inventory.states import STATE_LABELS_FR, DeviceKind, DeviceState, DonorKind, RetirementReason

ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class ArchiveIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why a site, donor, organisation, programme or charter is retired (the event's reason)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class SiteIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]  # site.name is varchar(120)
    address: Note = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""


class SiteOut(msgspec.Struct):
    id: int
    name: str
    address: str
    phone: str


class DonorIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: DonorKind
    contact_email: ShortText = ""


class DonorOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    contact_email: str


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: DeviceKind = DeviceKind.laptop
    brand: Annotated[str, msgspec.Meta(max_length=80)] = ""
    model: Annotated[str, msgspec.Meta(max_length=120)] = ""
    serial: Annotated[str, msgspec.Meta(max_length=80)] = ""


class DonationIn(msgspec.Struct, forbid_unknown_fields=True):
    """A lot: either `device_count` devices of one `kind`, or the `devices` listed one by one."""

    donor_id: int
    site_id: int
    received_on: date
    notes: Note = ""
    weee_reference: Annotated[str, msgspec.Meta(max_length=80)] = ""
    device_count: Annotated[int, msgspec.Meta(ge=1, le=2000)] | None = None
    kind: DeviceKind = DeviceKind.laptop
    devices: Annotated[list[DeviceIn], msgspec.Meta(max_length=2000)] = []


class DonationOut(msgspec.Struct):
    id: int
    donor_id: int
    site_id: int
    received_on: date
    notes: str
    weee_reference: str
    tags: list[str] | None = None


class DeviceOut(msgspec.Struct):
    id: int
    asset_tag: str
    kind: str
    brand: str
    model: str
    serial: str
    cpu: str
    ram_mb: int
    storage_summary: str
    grade: str
    state: str
    state_label: str
    donation_id: int | None
    site_id: int | None
    version: int
    facts: dict[str, Any]
    allowed_transitions: list[str] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], allowed: list[str] | None = None) -> DeviceOut:
        facts = row["facts"]
        if isinstance(facts, str):
            facts = msgspec.json.decode(facts or "{}")
        return cls(
            id=row["id"],
            asset_tag=row["asset_tag"],
            kind=row["kind"],
            brand=row["brand"],
            model=row["model"],
            serial=row["serial"],
            cpu=row["cpu"],
            ram_mb=row["ram_mb"],
            storage_summary=row["storage_summary"],
            grade=row["grade"],
            state=row["state"],
            state_label=STATE_LABELS_FR[DeviceState(row["state"])],
            donation_id=row["donation"],
            site_id=row["site"],
            version=row["version"],
            facts=facts or {},
            allowed_transitions=allowed,
        )


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    transition: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    reason: RetirementReason | None = None
    note: Note = ""
    expected_version: int | None = None


class EventOut(msgspec.Struct):
    id: int
    device_id: int | None
    loan_id: int | None
    actor: str
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EventOut:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = msgspec.json.decode(payload or "{}")
        return cls(
            id=row["id"],
            device_id=row["device"],
            loan_id=row["loan_id"],
            actor=row["actor"],
            at=row["at"],
            kind=row["kind"],
            from_state=row["from_state"],
            to_state=row["to_state"],
            payload=payload or {},
        )


class TransitionInfo(msgspec.Struct):
    name: str
    label: str
    sources: list[str]
    target: str
    custody_change: bool
    domain_only: bool


class Me(msgspec.Struct):
    name: str
    role: str
