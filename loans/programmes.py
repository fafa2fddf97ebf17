"""Programmes: the list with their loans, creation and correction, each change written as an event.

A programme's follow-up plan, default loan length and deposit apply to the loans opened after the
change; loans already opened keep the plan they were opened with. Archiving is loans.archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.query.functions.aggregate import Count

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Invalid, NotFound
from loans import borrowers
from loans.tables import Loan, Programme

MAX_FOLLOWUPS = 12
MAX_DEPOSIT_CENTS = 10_000_000
EDITABLE = (
    "name",
    "funder",
    "starts_on",
    "ends_on",
    "followups",
    "default_loan_days",
    "deposit_cents",
)


class FieldInvalid(Invalid):
    """A refusal that names the field to correct (`field` is the form's input name)."""

    def __init__(self, field: str, sentence: str) -> None:
        super().__init__(sentence)
        self.field = field


@dataclass
class ProgrammeFields:
    """What a coordinator sets on a programme; `followups` as [{"label", "days"}]."""

    name: str
    funder: str = ""
    starts_on: date | None = None
    ends_on: date | None = None
    followups: list[dict[str, Any]] | None = None
    default_loan_days: int | None = None
    deposit_cents: int = 0


def check(fields: ProgrammeFields) -> ProgrammeFields:
    """The same rules for a new programme and a corrected one; each refusal names its field."""
    name = (fields.name or "").strip()
    if not name:
        raise FieldInvalid("name", "Nom du programme : champ obligatoire.")
    if len(name) > 200:
        raise FieldInvalid("name", "Nom du programme : 200 caractères au plus.")
    funder = (fields.funder or "").strip()
    if len(funder) > 200:
        raise FieldInvalid("funder", "Financeur : 200 caractères au plus.")
    if fields.starts_on and fields.ends_on and fields.ends_on < fields.starts_on:
        raise FieldInvalid("ends_on", "La fin du programme précède son début.")
    plan = borrowers.DEFAULT_FOLLOWUPS if fields.followups is None else fields.followups
    if len(plan) > MAX_FOLLOWUPS:
        raise FieldInvalid("followups", f"Un programme prévoit {MAX_FOLLOWUPS} suivis au plus.")
    for step in plan:
        days, label = step.get("days"), str(step.get("label", "")).strip()
        if not isinstance(days, int) or not 0 <= days <= 730 or not label:
            raise FieldInvalid(
                "followups", "Chaque suivi prévu a un libellé et un délai de 0 à 730 jours."
            )
        if len(label) > 120:
            raise FieldInvalid("followups", "Le libellé d'un suivi compte 120 caractères au plus.")
    if fields.default_loan_days is not None and not 1 <= fields.default_loan_days <= 3650:
        raise FieldInvalid("default_loan_days", "La durée de prêt par défaut va de 1 à 3650 jours.")
    if not 0 <= fields.deposit_cents <= MAX_DEPOSIT_CENTS:
        raise FieldInvalid(
            "deposit", "Le dépôt de garantie va de 0 à 100 000 € (il ne peut pas être négatif)."
        )
    return ProgrammeFields(
        name=name,
        funder=funder,
        starts_on=fields.starts_on,
        ends_on=fields.ends_on,
        followups=[{"label": str(s["label"]).strip(), "days": s["days"]} for s in plan],
        default_loan_days=fields.default_loan_days,
        deposit_cents=fields.deposit_cents,
    )


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


async def create(fields: ProgrammeFields, actor: str) -> dict[str, Any]:
    """A new programme, and its `programme_created` event in the same transaction."""
    checked = check(fields)
    async with write_transaction(Programme):
        await _name_taken(checked.name)
        row = await borrowers.create_programme(
            checked.name,
            checked.funder,
            starts_on=checked.starts_on,
            ends_on=checked.ends_on,
            followups=checked.followups,
            default_loan_days=checked.default_loan_days,
            deposit_cents=checked.deposit_cents,
        )
        await write_event(
            None, actor, "programme_created", None, None, {"id": row["id"], **_payload(row)}
        )
    return row


async def update(programme_id: int, fields: ProgrammeFields, actor: str) -> dict[str, Any]:
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
        after = _payload(vars(checked))
        changed = {
            k: {"from": before[k], "to": after[k]} for k in EDITABLE if before[k] != after[k]
        }
        if not changed:
            return row
        await Programme.update(
            {
                Programme.name: checked.name,
                Programme.funder: checked.funder,
                Programme.starts_on: checked.starts_on,
                Programme.ends_on: checked.ends_on,
                Programme.followups: checked.followups,
                Programme.default_loan_days: checked.default_loan_days,
                Programme.deposit_cents: checked.deposit_cents,
            }
        ).where(Programme.id == programme_id)
        await write_event(
            None,
            actor,
            "programme_updated",
            None,
            None,
            {"id": programme_id, "name": checked.name, "changes": changed},
        )
    return {**row, **vars(checked)}


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


async def get(programme_id: int) -> dict[str, Any]:
    row = await borrowers.get_programme(programme_id)
    row["loans_count"] = await Loan.count().where(Loan.programme == programme_id)
    return row
