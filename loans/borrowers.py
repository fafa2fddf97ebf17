"""Organisations, borrowers (a pseudonymous code apart from the personal data) and programmes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.columns import Column

from inventory.clock import now
from inventory.commands import build
from inventory.commands import checked as checked_command
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from loans import communes, programmes
from loans.tables import Borrower, BorrowerContact, Organisation


class OrganisationKind(StrEnum):
    school = "school"
    college = "college"
    social_centre = "social_centre"
    association = "association"


class BorrowerKind(StrEnum):
    household = "household"
    organisation = "organisation"


ORGANISATION_KINDS = tuple(OrganisationKind)
BORROWER_KINDS = tuple(BorrowerKind)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Commune = Annotated[str, msgspec.Meta(max_length=120)]
Insee = Annotated[str, msgspec.Meta(max_length=5)]


class OrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create or correct an organisation (POST /api/v1/organisations, the organisation form)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: OrganisationKind
    commune: Commune = ""
    insee_code: Insee = ""
    qpv: bool = False

    field_labels: ClassVar[dict[str, str]] = {
        "name": "Nom",
        "kind": "Type",
        "commune": "Commune",
        "insee_code": "Code INSEE",
        "qpv": "Quartier prioritaire",
    }


class OrganisationOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    commune: str
    insee_code: str
    qpv: bool
    created_at: datetime
    archived_at: datetime | None = None


class BorrowerIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new borrower (POST /api/v1/borrowers, the borrower form, a checkout's new household),
    or a borrower's corrected contact and attributes."""

    kind: BorrowerKind = BorrowerKind.household
    full_name: Text200 = ""
    email: Text200 = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address: Annotated[str, msgspec.Meta(max_length=500)] = ""
    guardian_name: Text200 = ""
    referent: Text200 = ""
    commune: Commune = ""
    insee_code: Insee = ""
    qpv_resident: bool = False
    children_count: Annotated[int, msgspec.Meta(ge=0, le=30)] = 0
    school_id: int | None = None
    organisation_id: int | None = None
    is_minor: bool = False

    field_labels: ClassVar[dict[str, str]] = {
        "kind": "Type d'emprunteur",
        "full_name": "Nom et prénom",
        "email": "Courriel",
        "phone": "Téléphone",
        "address": "Adresse",
        "guardian_name": "Représentant légal",
        "referent": "Référent",
        "commune": "Commune",
        "insee_code": "Code INSEE",
        "qpv_resident": "Quartier prioritaire",
        "children_count": "Nombre d'enfants",
        "school_id": "École",
        "organisation_id": "Organisation",
        "is_minor": "Mineur",
    }


class BorrowerOut(msgspec.Struct):
    """A borrower by its pseudonymous code (no personal data)."""

    id: int
    code: str
    kind: str
    organisation: int | None
    commune: str
    insee_code: str
    qpv_resident: bool
    children_count: int
    school: int | None
    is_minor: bool
    created_at: datetime
    anonymised_at: datetime | None = None


class ContactOut(msgspec.Struct):
    full_name: str
    email: str
    phone: str
    address: str
    guardian_name: str
    referent: str


class BorrowerDetail(BorrowerOut):
    """One borrower with its personal data (None once erased)."""

    contact: ContactOut | None = None


def _columns(values: dict[str, Any]) -> dict[Column | str, Any]:
    """Values by column name, as Piccolo's `update` takes them."""
    columns: dict[Column | str, Any] = {**values}
    return columns


def _text(value: str, limit: int, what: str, *, required: bool = False, field: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        raise FieldInvalid(field, f"{what} : champ obligatoire.")
    if len(value) > limit:
        raise FieldInvalid(field, f"{what} : {limit} caractères au plus.")
    return value


def _insee(code: str) -> str:
    code = (code or "").strip().upper()
    # Corsica's départements are 2A and 2B; otherwise five digits.
    if code and not (len(code) == 5 and (code.isdigit() or code[:2] in ("2A", "2B"))):
        raise FieldInvalid(
            "insee_code", "Le code INSEE d'une commune compte 5 caractères (ex. 69123, 2A004)."
        )
    return code


def _commune(name: str, code: str) -> tuple[str, str]:
    """(name, INSEE code) of a borrower's commune: a name typed without its code (the API, a
    checkout's new household) is looked up in loans.communes, so open data counts it."""
    name, code = _text(name, 120, "Commune"), _insee(code)
    if not name or code:
        return name, code
    try:
        found = communes.resolve(name)
    except Invalid:
        raise FieldInvalid(
            "commune",
            f"Commune : aucune commune ne s'appelle « {name} » ; vérifiez l'orthographe ou "
            "indiquez son code INSEE.",
        ) from None
    if found.commune is None:
        labels = ", ".join(c.label for c in found.choices[:5])
        raise FieldInvalid(
            "commune",
            f"Commune : plusieurs communes s'appellent « {name} » ({labels}) ; précisez le "
            f"département, par exemple « {found.choices[0].label} », ou le code INSEE.",
        )
    return found.commune.name, found.commune.insee


def organisation(
    name: str, kind: str, commune: str = "", insee_code: str = "", qpv: bool = False
) -> OrganisationIn:
    """The command from plain values (code, tests, the CLI), checked."""
    values = {"name": name, "kind": kind, "commune": commune, "insee_code": insee_code, "qpv": qpv}
    return build(OrganisationIn, values)


async def add_organisation(data: OrganisationIn) -> dict[str, Any]:
    """A new organisation; returns its row."""
    values = _organisation_row(data)
    rows = await Organisation.insert(Organisation(**values, created_at=now())).returning(
        *Organisation.all_columns()
    )
    return rows[0]


async def create_organisation(
    name: str, kind: str, commune: str = "", insee_code: str = "", qpv: bool = False
) -> dict[str, Any]:
    """`add_organisation` from plain values (for code and tests)."""
    return await add_organisation(organisation(name, kind, commune, insee_code, qpv))


def _organisation_row(data: OrganisationIn) -> dict[str, Any]:
    data = checked_command(data)
    return dict(
        name=_text(data.name, 200, "Nom", required=True, field="name"),
        kind=str(data.kind),
        commune=_text(data.commune, 120, "Commune"),
        insee_code=_insee(data.insee_code),
        qpv=data.qpv,
    )


async def get_organisation(organisation_id: int) -> dict[str, Any]:
    row = await Organisation.select().where(Organisation.id == organisation_id).first()
    if row is None:
        raise NotFound(f"Organisation {organisation_id} inconnue.")
    return row


async def update_organisation(
    organisation_id: int, data: OrganisationIn, *, actor: str
) -> dict[str, Any]:
    """Correct an organisation; the event names the fields changed."""
    values = _organisation_row(data)
    async with write_transaction(Organisation):
        before = await get_organisation(organisation_id)
        changed = sorted(k for k, v in values.items() if before[k] != v)
        if changed:
            await Organisation.update(_columns(values)).where(Organisation.id == organisation_id)
            await write_event(
                None,
                actor,
                "organisation_updated",
                None,
                None,
                {"organisation": organisation_id, "fields": changed},
            )
        return await get_organisation(organisation_id)


async def _new_code() -> str:
    while True:
        code = "B-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not await Borrower.exists().where(Borrower.code == code):
            return code


@dataclass(frozen=True)
class NewBorrower:
    """A borrower checked and ready to insert, with its code already drawn."""

    row: dict[str, Any]
    contact: dict[str, Any]


async def check_borrower(data: BorrowerIn) -> NewBorrower:
    """Validate a new borrower without writing anything; raise with a sentence if wrong."""
    data = checked_command(data)
    if data.kind == "organisation":
        if data.organisation_id is None:
            raise FieldInvalid("organisation_id", "Choisissez l'organisation qui emprunte.")
        if data.is_minor:
            raise Invalid("Une organisation n'est pas mineure.")
    full_name = _text(
        data.full_name, 200, "Nom", required=data.kind == "household", field="full_name"
    )
    if data.is_minor and not data.guardian_name.strip():
        raise FieldInvalid(
            "guardian_name",
            "Représentant légal : obligatoire pour un emprunteur mineur (c'est lui qui signe).",
        )
    for ref in (data.school_id, data.organisation_id):
        if ref is not None and not await Organisation.exists().where(Organisation.id == ref):
            raise NotFound(f"Organisation {ref} inconnue.")
    contact = dict(
        full_name=full_name,
        email=_text(data.email, 200, "Courriel"),
        phone=_text(data.phone, 40, "Téléphone"),
        address=_text(data.address, 500, "Adresse"),
        guardian_name=_text(data.guardian_name, 200, "Représentant légal"),
        referent=_text(data.referent, 200, "Référent"),
    )
    commune, insee_code = _commune(data.commune, data.insee_code)
    row = dict(
        code=await _new_code(),
        kind=str(data.kind),
        organisation=data.organisation_id,
        commune=commune,
        insee_code=insee_code,
        qpv_resident=data.qpv_resident,
        children_count=data.children_count,
        school=data.school_id,
        is_minor=data.is_minor,
    )
    return NewBorrower(row=row, contact=contact)


async def insert_borrower(new: NewBorrower) -> dict[str, Any]:
    """Write a checked borrower and its personal data; inside the caller's transaction."""
    rows = await Borrower.insert(Borrower(**new.row, created_at=now())).returning(
        *Borrower.all_columns()
    )
    await BorrowerContact.insert(BorrowerContact(borrower=rows[0]["id"], **new.contact))
    return rows[0]


async def create_borrower(data: BorrowerIn) -> dict[str, Any]:
    """A borrower and, apart, its personal data; returns the pseudonymous record."""
    new = await check_borrower(data)
    async with write_transaction(Borrower):
        return await insert_borrower(new)


async def get_borrower(borrower_id: int) -> dict[str, Any]:
    row = await Borrower.select().where(Borrower.id == borrower_id).first()
    if row is None:
        raise NotFound(f"Emprunteur {borrower_id} inconnu.")
    return row


async def get_contact(borrower_id: int) -> dict[str, Any] | None:
    return await BorrowerContact.select().where(BorrowerContact.borrower == borrower_id).first()


async def display_name(borrower: dict[str, Any]) -> str:
    """The name to show to staff on screen (never logged): the person's, else the code."""
    if borrower["kind"] == "organisation" and borrower["organisation"]:
        org = await Organisation.select().where(Organisation.id == borrower["organisation"]).first()
        if org:
            return org["name"]
    contact = await get_contact(borrower["id"])
    return (contact or {}).get("full_name") or borrower["code"]


async def create_programme(
    name: str,
    funder: str = "",
    *,
    starts_on: date | None = None,
    ends_on: date | None = None,
    followups: list[dict[str, Any]] | None = None,
    default_loan_days: int | None = None,
    deposit_cents: int = 0,
) -> dict[str, Any]:
    """A programme from plain values, without its event (demo data and tests); the coordinators'
    way in is `loans.programmes.create`."""
    command = build(
        programmes.ProgrammeIn,
        {
            "name": name,
            "funder": funder,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "followups": followups,
            "default_loan_days": default_loan_days,
            "deposit_cents": deposit_cents,
        },
    )
    return await programmes.insert(programmes.check(command))


CONTACT_FIELDS = ("full_name", "email", "phone", "address", "guardian_name", "referent")
ATTRIBUTE_FIELDS = ("commune", "insee_code", "qpv_resident", "children_count", "school", "is_minor")


async def update_borrower(borrower_id: int, data: BorrowerIn, actor: str) -> dict[str, Any]:
    """Correct a borrower's contact and attributes (its kind and organisation stay); the event
    `borrower_updated` names the borrower by code and the fields changed, never their values."""
    async with write_transaction(Borrower):
        borrower = await get_borrower(borrower_id)
        if borrower["anonymised_at"] is not None:
            raise Conflict("Cet emprunteur a été anonymisé : ses données ne se modifient plus.")
        checked = await check_borrower(
            msgspec.structs.replace(
                data, kind=BorrowerKind(borrower["kind"]), organisation_id=borrower["organisation"]
            )
        )
        contact = await get_contact(borrower_id) or {}
        attributes = {k: checked.row[k] for k in ATTRIBUTE_FIELDS}
        changed = sorted(
            [k for k in ATTRIBUTE_FIELDS if borrower[k] != attributes[k]]
            + [k for k in CONTACT_FIELDS if contact.get(k, "") != checked.contact[k]]
        )
        if not changed:
            return borrower
        await Borrower.update(_columns(attributes)).where(Borrower.id == borrower_id)
        if contact:
            await BorrowerContact.update(_columns(checked.contact)).where(
                BorrowerContact.borrower == borrower_id
            )
        else:
            await BorrowerContact.insert(BorrowerContact(borrower=borrower_id, **checked.contact))
        await write_event(
            None,
            actor,
            "borrower_updated",
            None,
            None,
            {"borrower": borrower["code"], "fields": changed},
        )
        return await get_borrower(borrower_id)
