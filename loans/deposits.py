"""A loan's deposit: taken (or waived) at checkout, refunded or kept (with a reason) at return.

Each status change writes its event in the same transaction (`deposit_paid`, `deposit_waived`,
`deposit_refunded`, `deposit_kept`, with the loan's id), so the self-audit and the funder report
read the same story.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, NotFound
from inventory.states import N_
from loans import memberships
from loans.memberships import MembershipOut, PaymentMethod
from loans.tables import Deposit, Loan


class DepositStatus(StrEnum):
    paid = "paid"
    waived = "waived"
    refunded = "refunded"
    kept = "kept"


class Settlement(StrEnum):
    """What becomes of a paid deposit when the devices come back."""

    refunded = "refunded"
    kept = "kept"


DEPOSIT_STATUS_LABELS = {
    DepositStatus.paid: N_("Encaissé"),
    DepositStatus.waived: N_("Non demandé (exonération)"),
    DepositStatus.refunded: N_("Rendu"),
    DepositStatus.kept: N_("Conservé"),
}
SETTLEMENT_LABELS = {
    Settlement.refunded: N_("Rendre le dépôt de garantie"),
    Settlement.kept: N_("Conserver le dépôt de garantie (motif obligatoire)"),
}


class DepositSettleIn(msgspec.Struct, forbid_unknown_fields=True):
    """Refund or keep a loan's deposit (POST /api/v1/loans/{id}/deposit, the loan page)."""

    outcome: Settlement
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""
    method: PaymentMethod | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "outcome": "Dépôt de garantie",
        "reason": "Motif de la retenue",
        "method": "Moyen de remboursement",
    }


class DepositOut(msgspec.Struct):
    """A loan's deposit as the API shows it."""

    id: int
    loan: int
    amount_cents: int
    status: str
    method: str
    reason: str
    taken_by: str
    taken_at: datetime
    changed_by: str
    changed_at: datetime | None


class LoanMoneyOut(msgspec.Struct):
    """What a loan's borrower paid: the membership in force at checkout, and the deposit."""

    membership: MembershipOut | None
    deposit: DepositOut | None


async def loan_money(loan_id: int) -> LoanMoneyOut:
    """The membership and deposit of a loan (GET /api/v1/loans/{id}/money)."""
    if not await Loan.exists().where(Loan.id == loan_id):
        raise NotFound(f"Prêt {loan_id} inconnu.")
    membership = await memberships.of_loan(loan_id)
    deposit = await of_loan(loan_id)
    return LoanMoneyOut(
        membership=msgspec.convert(membership, MembershipOut) if membership else None,
        deposit=msgspec.convert(deposit, DepositOut) if deposit else None,
    )


async def record(
    loan_id: int,
    amount_cents: int,
    status: DepositStatus,
    method: str,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Write a loan's deposit, paid or waived, and its event; inside the caller's transaction."""
    rows = await Deposit.insert(
        Deposit(
            loan=loan_id,
            amount_cents=amount_cents if status == DepositStatus.paid else 0,
            status=str(status),
            method=method if status == DepositStatus.paid else "",
            taken_by=actor,
            taken_at=at,
        )
    ).returning(*Deposit.all_columns())
    row = rows[0]
    await write_event(
        None,
        actor,
        f"deposit_{status}",
        None,
        None,
        {
            "deposit_id": row["id"],
            "amount_cents": row["amount_cents"],
            "due_cents": amount_cents,
            "method": row["method"],
        },
        loan_id=loan_id,
    )
    return row


async def of_loan(loan_id: int) -> dict[str, Any] | None:
    return await Deposit.select().where(Deposit.loan == loan_id).first()


def check(data: DepositSettleIn) -> DepositSettleIn:
    """The settlement as it will be recorded; a kept deposit needs its reason."""
    data = checked(data)
    reason = data.reason.strip()
    if data.outcome == Settlement.kept and not reason:
        raise FieldInvalid(
            "reason", "Un dépôt de garantie conservé l'est pour un motif : écrivez-le."
        )
    return msgspec.structs.replace(data, reason=reason)


async def settle_in_transaction(loan_id: int, data: DepositSettleIn, actor: str) -> dict[str, Any]:
    """Refund or keep the deposit, with its event; inside the caller's write transaction."""
    data = check(data)
    row = await of_loan(loan_id)
    if row is None:
        raise Conflict(f"Le prêt n° {loan_id} n'a pas de dépôt de garantie.")
    if row["status"] != DepositStatus.paid:
        label = DEPOSIT_STATUS_LABELS[DepositStatus(row["status"])]
        raise Conflict(
            f"Le dépôt de garantie du prêt n° {loan_id} n'est plus encaissé (« {label} ») : "
            "rien n'a été enregistré."
        )
    at = now()
    updated = await (
        Deposit.update(
            {
                Deposit.status: str(data.outcome),
                Deposit.reason: data.reason,
                Deposit.changed_by: actor,
                Deposit.changed_at: at,
            }
        )
        .where((Deposit.id == row["id"]) & (Deposit.status == DepositStatus.paid))
        .returning(Deposit.id)
    )
    if not updated:
        raise Conflict(f"Le dépôt de garantie du prêt n° {loan_id} vient d'être réglé ailleurs.")
    await write_event(
        None,
        actor,
        f"deposit_{data.outcome}",
        None,
        None,
        {
            "deposit_id": row["id"],
            "amount_cents": row["amount_cents"],
            "settlement_reason": data.reason,
            "method": str(data.method) if data.method else "",
        },
        loan_id=loan_id,
    )
    return {**row, "status": str(data.outcome), "reason": data.reason}


async def settle(loan_id: int, data: DepositSettleIn, actor: str) -> dict[str, Any]:
    """Refund or keep a loan's deposit in a transaction of its own."""
    data = check(data)
    async with write_transaction(Deposit):
        if not await Loan.exists().where(Loan.id == loan_id):
            raise NotFound(f"Prêt {loan_id} inconnu.")
        return await settle_in_transaction(loan_id, data, actor)
