"""Programmes: the list with their loans, creation and correction, each change written as an event.

A programme's follow-up plan, default loan length and deposit apply to the loans opened after the
change; loans already opened keep the plan they were opened with. Archiving is loans.archive.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count

from inventory.commands import checked as checked_command
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import FieldInvalid, NotFound
from loans.memberships import Validity
from loans.tables import Loan, Programme
from provisioning.imaging.profiles import PROFILES

MAX_FOLLOWUPS = 12
MAX_DEPOSIT_CENTS = 10_000_000
DEFAULT_FOLLOWUPS = [{"label": "prise en main", "days": 7}, {"label": "usages", "days": 30}]
EDITABLE = (
    "name",
    "funder",
    "starts_on",
    "ends_on",
    "followups",
    "default_loan_days",
    "deposit_cents",
    "membership_required",
    "membership_fee_cents",
    "membership_validity",
    "membership_days",
    "imaging_profile",
)


class FollowUpIn(msgspec.Struct, forbid_unknown_fields=True):
    """One planned follow-up: its label and how many days after the checkout."""

    label: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    days: Annotated[int, msgspec.Meta(ge=0, le=730)]


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Create or correct a programme (POST /api/v1/programmes, the programme form)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    funder: Annotated[str, msgspec.Meta(max_length=200)] = ""
    starts_on: date | None = None
    ends_on: date | None = None
    # None: the default plan (DEFAULT_FOLLOWUPS); [] : no follow-up.
    followups: Annotated[list[FollowUpIn], msgspec.Meta(max_length=MAX_FOLLOWUPS)] | None = None
    default_loan_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    deposit_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_DEPOSIT_CENTS)] = 0
    membership_required: bool = False
    membership_fee_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_DEPOSIT_CENTS)] = 0
    membership_validity: Validity = Validity.days
    membership_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 365
    # "" : no profile named; else a key of provisioning.imaging.profiles.PROFILES.
    imaging_profile: Annotated[str, msgspec.Meta(max_length=20)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "name": "Nom du programme",
        "funder": "Financeur",
        "starts_on": "Date de début",
        "ends_on": "Date de fin",
        "followups": "Suivis prévus",
        "label": "Libellé du suivi",
        "days": "Délai du suivi (jours)",
        "default_loan_days": "Durée de prêt par défaut (jours)",
        "deposit_cents": "Dépôt de garantie (centimes)",
        "membership_required": "Adhésion obligatoire",
        "membership_fee_cents": "Cotisation d'adhésion (centimes)",
        "membership_validity": "Validité de l'adhésion",
        "membership_days": "Durée de l'adhésion (jours)",
        "imaging_profile": "Profil d'installation",
    }


class FollowUpOut(msgspec.Struct):
    label: str
    days: int


class ProgrammeOut(msgspec.Struct):
    """A programme as the API shows it."""

    id: int
    name: str
    funder: str
    starts_on: date | None
    ends_on: date | None
    followups: list[FollowUpOut]
    default_loan_days: int | None
    deposit_cents: int
    archived_at: datetime | None = None
    membership_required: bool = False
    membership_fee_cents: int = 0
    membership_validity: str = "days"
    membership_days: int = 365
    imaging_profile: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ProgrammeOut:
        plan = row.get("followups") or []
        if isinstance(plan, str):
            plan = msgspec.json.decode(plan or "[]")
        return msgspec.convert({**row, "followups": plan}, cls)


def _plan(data: ProgrammeIn) -> list[dict[str, Any]]:
    if data.followups is None:
        return [dict(step) for step in DEFAULT_FOLLOWUPS]
    return [{"label": f.label.strip(), "days": f.days} for f in data.followups]


def check(fields: ProgrammeIn) -> ProgrammeIn:
    """The same rules for a new programme and a corrected one; each refusal names its field.
    Returns the command with its texts trimmed and its follow-up plan spelt out."""
    fields = checked_command(fields)
    name = fields.name.strip()
    if not name:
        raise FieldInvalid("name", "Nom du programme : champ obligatoire.")
    if fields.starts_on and fields.ends_on and fields.ends_on < fields.starts_on:
        raise FieldInvalid("ends_on", "La fin du programme précède son début.")
    if fields.imaging_profile and fields.imaging_profile not in PROFILES:
        raise FieldInvalid(
            "imaging_profile",
            f"Profil d'installation inconnu : {fields.imaging_profile} "
            f"(profils : {', '.join(sorted(PROFILES))}).",
        )
    if fields.membership_fee_cents and not fields.membership_required:
        raise FieldInvalid(
            "membership_fee_cents",
            "Une cotisation ne se demande que si l'adhésion est obligatoire : cochez-la.",
        )
    plan = _plan(fields)
    if any(not step["label"] for step in plan):
        raise FieldInvalid(
            "followups", "Chaque suivi prévu a un libellé et un délai de 0 à 730 jours."
        )
    return msgspec.structs.replace(
        fields,
        name=name,
        funder=fields.funder.strip(),
        followups=[FollowUpIn(**step) for step in plan],
    )


def _row(data: ProgrammeIn) -> dict[str, Any]:
    """A checked command as the columns of its row."""
    return {
        "name": data.name,
        "funder": data.funder,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "followups": _plan(data),
        "default_loan_days": data.default_loan_days,
        "deposit_cents": data.deposit_cents,
        "membership_required": data.membership_required,
        "membership_fee_cents": data.membership_fee_cents,
        "membership_validity": str(data.membership_validity),
        "membership_days": data.membership_days,
        "imaging_profile": data.imaging_profile,
    }


def _columns(values: dict[str, Any]) -> dict[Column | str, Any]:
    columns: dict[Column | str, Any] = {**values}
    return columns


async def insert(data: ProgrammeIn) -> dict[str, Any]:
    """Write a checked programme (no event: `create` writes it); inside the caller's transaction
    or alone."""
    await _name_taken(data.name)
    rows = await Programme.insert(Programme(**_row(data))).returning(*Programme.all_columns())
    row = rows[0]
    if isinstance(row.get("followups"), str):
        row["followups"] = msgspec.json.decode(row["followups"] or "[]")
    return row


async def _name_taken(name: str, other_than: int | None = None) -> None:
    query = Programme.exists().where(Programme.name == name)
    if other_than is not None:
        query = query.where(Programme.id != other_than)
    if await query:
        raise FieldInvalid("name", f"Le programme « {name} » existe déjà.")


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in row.items()
        if key in EDITABLE
    }


async def create(fields: ProgrammeIn, actor: str) -> dict[str, Any]:
    """A new programme, and its `programme_created` event in the same transaction."""
    checked = check(fields)
    async with write_transaction(Programme):
        row = await insert(checked)
        await write_event(
            None, actor, "programme_created", None, None, {"id": row["id"], **_payload(row)}
        )
    return row


async def update(programme_id: int, fields: ProgrammeIn, actor: str) -> dict[str, Any]:
    """Correct a programme; `programme_updated` keeps each changed field's old and new value."""
    checked = check(fields)
    async with write_transaction(Programme):
        row = await (
            Programme.select().where(Programme.id == programme_id).first().output(load_json=True)
        )
        if row is None:
            raise NotFound(f"Programme {programme_id} inconnu.")
        await _name_taken(checked.name, other_than=programme_id)
        before = _payload(row)
        values = _row(checked)
        after = _payload(values)
        changed = {
            k: {"from": before[k], "to": after[k]} for k in EDITABLE if before[k] != after[k]
        }
        if not changed:
            return row
        await Programme.update(_columns(values)).where(Programme.id == programme_id)
        await write_event(
            None,
            actor,
            "programme_updated",
            None,
            None,
            {"id": programme_id, "name": checked.name, "changes": changed},
        )
    return {**row, **values}


async def listing(*, include_archived: bool = True) -> list[dict[str, Any]]:
    """Every programme with its number of loans, open ones first, then by name."""
    query = Programme.select().order_by(Programme.name)
    if not include_archived:
        query = query.where(Programme.archived_at.is_null())
    rows = await query.output(load_json=True)
    grouped = await (
        Loan.select(Loan.programme, Count(alias="n"))
        .where(Loan.programme.is_not_null())
        .group_by(Loan.programme)
    )
    counts = {g["programme"]: g["n"] for g in grouped}
    for row in rows:
        row["loans_count"] = counts.get(row["id"], 0)
    return sorted(rows, key=lambda r: r["archived_at"] is not None)


async def get_programme(programme_id: int) -> dict[str, Any]:
    row = (
        await Programme.select().where(Programme.id == programme_id).first().output(load_json=True)
    )
    if row is None:
        raise NotFound(f"Programme {programme_id} inconnu.")
    return row


async def get(programme_id: int) -> dict[str, Any]:
    row = await get_programme(programme_id)
    row["loans_count"] = await Loan.count().where(Loan.programme == programme_id)
    return row
