"""Organisations, borrowers (a pseudonymous code apart from the personal data) and programmes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid, NotFound
from loans.tables import Borrower, BorrowerContact, Organisation, Programme

ORGANISATION_KINDS = ("school", "college", "social_centre", "association")
BORROWER_KINDS = ("household", "organisation")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEFAULT_FOLLOWUPS = [{"label": "prise en main", "days": 7}, {"label": "usages", "days": 30}]


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str, limit: int, what: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"{what} : champ obligatoire.")
    if len(value) > limit:
        raise Invalid(f"{what} : {limit} caractères au plus.")
    return value


def _insee(code: str) -> str:
    code = (code or "").strip().upper()
    # Corsica's départements are 2A and 2B; otherwise five digits.
    if code and not (len(code) == 5 and (code.isdigit() or code[:2] in ("2A", "2B"))):
        raise Invalid("Le code INSEE d'une commune compte 5 caractères (ex. 69123, 2A004).")
    return code


async def create_organisation(
    name: str, kind: str, commune: str = "", insee_code: str = "", qpv: bool = False
) -> dict[str, Any]:
    values = _organisation_row(name, kind, commune, insee_code, qpv)
    rows = await Organisation.insert(Organisation(**values, created_at=_now())).returning(
        *Organisation.all_columns()
    )
    return rows[0]


def _organisation_row(
    name: str, kind: str, commune: str, insee_code: str, qpv: bool
) -> dict[str, Any]:
    if kind not in ORGANISATION_KINDS:
        raise Invalid(f"Type d'organisation inconnu ; types : {', '.join(ORGANISATION_KINDS)}.")
    return dict(
        name=_text(name, 200, "Nom", required=True),
        kind=kind,
        commune=_text(commune, 120, "Commune"),
        insee_code=_insee(insee_code),
        qpv=qpv,
    )


async def get_organisation(organisation_id: int) -> dict[str, Any]:
    row = await Organisation.select().where(Organisation.id == organisation_id).first()
    if row is None:
        raise NotFound(f"Organisation {organisation_id} inconnue.")
    return row


async def update_organisation(
    organisation_id: int,
    name: str,
    kind: str,
    commune: str = "",
    insee_code: str = "",
    qpv: bool = False,
    *,
    actor: str,
) -> dict[str, Any]:
    """Correct an organisation; the event names the fields changed."""
    values = _organisation_row(name, kind, commune, insee_code, qpv)
    async with write_transaction(Organisation):
        before = await get_organisation(organisation_id)
        changed = sorted(k for k, v in values.items() if before[k] != v)
        if changed:
            await Organisation.update(values).where(Organisation.id == organisation_id)
            await write_event(
                None,
                actor,
                "organisation_updated",
                None,
                None,
                {"organisation": organisation_id, "fields": changed},
            )
        return await get_organisation(organisation_id)


@dataclass
class BorrowerIn:
    kind: str = "household"
    full_name: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    guardian_name: str = ""
    referent: str = ""
    commune: str = ""
    insee_code: str = ""
    qpv_resident: bool = False
    children_count: int = 0
    school_id: int | None = None
    organisation_id: int | None = None
    is_minor: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


async def _new_code() -> str:
    while True:
        code = "B-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not await Borrower.exists().where(Borrower.code == code):
            return code


@dataclass(frozen=True)
class NewBorrower:
    """A borrower checked and ready to insert, with its code already drawn."""

    row: dict[str, Any]
    contact: dict[str, str]


async def check_borrower(data: BorrowerIn) -> NewBorrower:
    """Validate a new borrower without writing anything; raise with a sentence if wrong."""
    if data.kind not in BORROWER_KINDS:
        raise Invalid("Un emprunteur est un foyer (household) ou une organisation (organisation).")
    if not 0 <= data.children_count <= 30:
        raise Invalid("Le nombre d'enfants va de 0 à 30.")
    if data.kind == "organisation":
        if data.organisation_id is None:
            raise Invalid("Choisissez l'organisation qui emprunte.")
        if data.is_minor:
            raise Invalid("Une organisation n'est pas mineure.")
    full_name = _text(data.full_name, 200, "Nom", required=data.kind == "household")
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
    row = dict(
        code=await _new_code(),
        kind=data.kind,
        organisation=data.organisation_id,
        commune=_text(data.commune, 120, "Commune"),
        insee_code=_insee(data.insee_code),
        qpv_resident=data.qpv_resident,
        children_count=data.children_count,
        school=data.school_id,
        is_minor=data.is_minor,
    )
    return NewBorrower(row=row, contact=contact)


async def insert_borrower(new: NewBorrower) -> dict[str, Any]:
    """Write a checked borrower and its personal data; inside the caller's transaction."""
    rows = await Borrower.insert(Borrower(**new.row, created_at=_now())).returning(
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
    plan = DEFAULT_FOLLOWUPS if followups is None else followups
    for step in plan:
        days = step.get("days")
        if not isinstance(days, int) or not 0 <= days <= 730 or not str(step.get("label", "")):
            raise Invalid("Chaque suivi prévu a un libellé et un délai de 0 à 730 jours.")
    if default_loan_days is not None and not 1 <= default_loan_days <= 3650:
        raise Invalid("La durée de prêt par défaut va de 1 à 3650 jours.")
    if deposit_cents < 0:
        raise Invalid("Le dépôt de garantie ne peut pas être négatif.")
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid("La fin du programme précède son début.")
    name = _text(name, 200, "Nom du programme", required=True)
    if await Programme.exists().where(Programme.name == name):
        raise Invalid(f"Le programme « {name} » existe déjà.")
    rows = await Programme.insert(
        Programme(
            name=name,
            funder=_text(funder, 200, "Financeur"),
            starts_on=starts_on,
            ends_on=ends_on,
            followups=[{"label": str(s["label"])[:120], "days": s["days"]} for s in plan],
            default_loan_days=default_loan_days,
            deposit_cents=deposit_cents,
        )
    ).returning(*Programme.all_columns())
    return rows[0]


async def get_programme(programme_id: int) -> dict[str, Any]:
    row = (
        await Programme.select().where(Programme.id == programme_id).first().output(load_json=True)
    )
    if row is None:
        raise NotFound(f"Programme {programme_id} inconnu.")
    return row


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
            BorrowerIn(
                **{
                    **data.__dict__,
                    "kind": borrower["kind"],
                    "organisation_id": borrower["organisation"],
                }
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
        await Borrower.update(attributes).where(Borrower.id == borrower_id)
        if contact:
            await BorrowerContact.update(checked.contact).where(
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
