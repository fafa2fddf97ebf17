"""Bodies of the loans API (msgspec structs, validated by Litestar)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

from loans import signing

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class OrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Literal["school", "college", "social_centre", "association"]
    commune: Annotated[str, msgspec.Meta(max_length=120)] = ""
    insee_code: Annotated[str, msgspec.Meta(max_length=5)] = ""
    qpv: bool = False


class BorrowerIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["household", "organisation"] = "household"
    full_name: Text200 = ""
    email: Text200 = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address: Annotated[str, msgspec.Meta(max_length=500)] = ""
    guardian_name: Text200 = ""
    referent: Text200 = ""
    commune: Annotated[str, msgspec.Meta(max_length=120)] = ""
    insee_code: Annotated[str, msgspec.Meta(max_length=5)] = ""
    qpv_resident: bool = False
    children_count: Annotated[int, msgspec.Meta(ge=0, le=30)] = 0
    school_id: int | None = None
    organisation_id: int | None = None
    is_minor: bool = False


class FollowUpIn(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    days: Annotated[int, msgspec.Meta(ge=0, le=730)]


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    funder: Text200 = ""
    starts_on: date | None = None
    ends_on: date | None = None
    followups: Annotated[list[FollowUpIn], msgspec.Meta(max_length=12)] | None = None
    default_loan_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    deposit_cents: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 0


class CharterIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=50_000)]
    in_force_from: date


class SignatureBody(msgspec.Struct, forbid_unknown_fields=True):
    """The drawn signature (PNG from the canvas) or the paper scan (PNG or JPEG), base64."""

    method: Literal["drawn", "paper"]
    image_base64: Annotated[str, msgspec.Meta(max_length=9_000_000)]
    signer_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    signer_role: Literal["self", "legal_guardian", "school_representative"]


class CheckoutBody(msgspec.Struct, forbid_unknown_fields=True):
    """A checkout for a known borrower (`borrower_id`) or one created with it (`new_borrower`)."""

    borrower_id: int | None = None
    new_borrower: BorrowerIn | None = None
    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=60)] = []
    programme_id: int | None = None
    accessories: Annotated[list[Text200], msgspec.Meta(max_length=20)] = []
    condition_out: Text2000 = ""
    due_on: date | None = None
    signature: SignatureBody | None = None


class LinkBody(msgspec.Struct, forbid_unknown_fields=True):
    """A loan prepared for signing through a one-time link (a school's head, on their device)."""

    borrower_id: int
    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=60)]
    programme_id: int | None = None
    accessories: Annotated[list[Text200], msgspec.Meta(max_length=20)] = []
    condition_out: Text2000 = ""
    due_on: date | None = None
    hours: Annotated[int, msgspec.Meta(ge=1, le=336)] = signing.DEFAULT_HOURS


class ReturnBody(msgspec.Struct, forbid_unknown_fields=True):
    tag: Tag
    reason: Literal["end", "repair", "lost", "stolen"]
    charger: bool = False
    bag: bool = False
    damage: bool = False
    damage_notes: Text2000 = ""
    police_report: Annotated[str, msgspec.Meta(max_length=80)] = ""
    swap_tag: Tag | None = None


class RepairCloseBody(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Literal["repaired", "swapped", "not_repairable"]
    actions: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    parts: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    swap_tag: Tag | None = None
    # Outside a loan, a device not worth repairing leaves the fleet for parts or recycling.
    retire_reason: Literal["parts", "recycled_weee"] = "parts"


class SessionBody(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["done", "missed", "cancelled"]
    held_on: date | None = None
    mediator: Annotated[str, msgspec.Meta(max_length=120)] = ""
    place_type: Literal["", "lieu_activite", "domicile", "a_distance", "autre"] = ""
    duration_minutes: Annotated[int, msgspec.Meta(ge=0, le=600)] = 0
    themes: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=60)]], msgspec.Meta(max_length=19)
    ] = []
    autonomy: Literal["", "avec_guidage", "partiellement_autonome", "autonome"] = ""
    notes: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class WorkshopBody(msgspec.Struct, forbid_unknown_fields=True):
    planned_on: date
    borrower_ids: Annotated[list[int], msgspec.Meta(min_length=1, max_length=100)]
    label: Annotated[str, msgspec.Meta(max_length=120)] = ""
    mediator: Annotated[str, msgspec.Meta(max_length=120)] = ""
