"""Memberships of a programme: what is due at checkout, the payment or waiver, its events, and
the figures the funder report reads (counted from events, so a report can be recomputed).

A membership is paid (or waived) at the counter, usually with a checkout; it lasts a number of
days or to the end of the calendar year. Every status change writes its event in the same
transaction (`membership_paid`, `membership_waived`, `membership_refunded`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, NotFound
from inventory.states import N_, RetirementReason
from inventory.tables import Event
from loans.tables import Deposit, Loan, Membership


class PaymentMethod(StrEnum):
    cash = "cash"
    cheque = "cheque"
    transfer = "transfer"
    other = "other"


class Payment(StrEnum):
    """What the counter records for a fee or deposit that is due: paid, or waived."""

    paid = "paid"
    waived = "waived"


PAYMENT_LABELS = {
    Payment.paid: N_("Payé"),
    Payment.waived: N_("Exonéré"),
}


class MembershipStatus(StrEnum):
    paid = "paid"
    waived = "waived"
    refunded = "refunded"


class Validity(StrEnum):
    days = "days"
    calendar_year = "calendar_year"


METHOD_LABELS = {
    PaymentMethod.cash: N_("Espèces"),
    PaymentMethod.cheque: N_("Chèque"),
    PaymentMethod.transfer: N_("Virement"),
    PaymentMethod.other: N_("Autre moyen"),
}
MEMBERSHIP_STATUS_LABELS = {
    MembershipStatus.paid: N_("Payée"),
    MembershipStatus.waived: N_("Offerte (exonération)"),
    MembershipStatus.refunded: N_("Remboursée"),
}
VALIDITY_LABELS = {
    Validity.days: N_("Un nombre de jours"),
    Validity.calendar_year: N_("L'année civile"),
}
# The words of this module's events on a loan's history (web.vocabulary should list them too).
EVENT_LABELS = {
    "membership_paid": N_("Adhésion payée"),
    "membership_waived": N_("Adhésion offerte"),
    "membership_refunded": N_("Adhésion remboursée"),
    "deposit_paid": N_("Dépôt de garantie encaissé"),
    "deposit_waived": N_("Dépôt de garantie non demandé"),
    "deposit_refunded": N_("Dépôt de garantie rendu"),
    "deposit_kept": N_("Dépôt de garantie conservé"),
}
# Event kinds: the status a membership or deposit has after each one.
MEMBERSHIP_EVENTS = {
    "membership_paid": MembershipStatus.paid,
    "membership_waived": MembershipStatus.waived,
    "membership_refunded": MembershipStatus.refunded,
}
DEPOSIT_EVENTS = {
    "deposit_paid": "paid",
    "deposit_waived": "waived",
    "deposit_refunded": "refunded",
    "deposit_kept": "kept",
}


class MembershipFigures(msgspec.Struct):
    """Memberships, deposits and devices given or sold in a period, counted from the events."""

    memberships_paid: int = 0
    memberships_waived: int = 0
    membership_fees_cents: int = 0
    deposits_taken: int = 0
    deposits_refunded: int = 0
    deposits_kept: int = 0
    # Deposits paid and neither refunded nor kept at the end of the period.
    deposits_held_cents: int = 0
    devices_given: int = 0
    devices_sold: int = 0
    sales_cents: int = 0


class MembershipOut(msgspec.Struct):
    """A membership as the API shows it."""

    id: int
    borrower: int
    programme: int | None
    loan: int | None
    fee_cents: int
    valid_from: date
    valid_until: date
    status: str
    method: str
    taken_by: str
    at: datetime


class MembershipRefundIn(msgspec.Struct, forbid_unknown_fields=True):
    """Refund a paid membership (POST /api/v1/loans/memberships/{id}/refund, the loan page)."""

    reason: Annotated[str, msgspec.Meta(max_length=500)]
    method: PaymentMethod | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "reason": "Motif du remboursement",
        "method": "Moyen de remboursement",
    }


async def refund(membership_id: int, data: MembershipRefundIn, actor: str) -> MembershipOut:
    """A paid membership refunded, with its `membership_refunded` event; 409 if not paid."""
    data = checked(data)
    reason = data.reason.strip()
    if not reason:
        raise FieldInvalid(
            "reason", "Un remboursement d'adhésion se fait pour un motif : écrivez-le."
        )
    async with write_transaction(Membership):
        row = await Membership.select().where(Membership.id == membership_id).first()
        if row is None:
            raise NotFound(f"Adhésion {membership_id} inconnue.")
        updated = await (
            Membership.update({Membership.status: str(MembershipStatus.refunded)})
            .where((Membership.id == membership_id) & (Membership.status == MembershipStatus.paid))
            .returning(Membership.id)
        )
        if not updated:
            raise Conflict(
                f"L'adhésion n° {membership_id} n'est pas payée (ou déjà remboursée) : "
                "rien n'a été enregistré."
            )
        await write_event(
            None,
            actor,
            "membership_refunded",
            None,
            None,
            {
                "membership_id": membership_id,
                "programme_id": row["programme"],
                "fee_cents": row["fee_cents"],
                "method": str(data.method) if data.method else "",
                "refund_reason": reason,
            },
            loan_id=row["loan"],
        )
    return msgspec.convert({**row, "status": str(MembershipStatus.refunded)}, MembershipOut)


def valid_until(programme: dict[str, Any], start: date) -> date:
    """The last day of a membership taken on `start` under the programme's rule."""
    if programme.get("membership_validity") == Validity.calendar_year:
        return date(start.year, 12, 31)
    days = int(programme.get("membership_days") or 365)
    return start + timedelta(days=max(days, 1) - 1)


async def current(
    borrower_id: int, on: date, programme_id: int | None = None
) -> dict[str, Any] | None:
    """The borrower's membership valid on `on` (paid or waived, not refunded), if any; of the
    programme when one is named."""
    query = Membership.select().where(
        (Membership.borrower == borrower_id)
        & (Membership.valid_from <= on)
        & (Membership.valid_until >= on)
        & (Membership.status != MembershipStatus.refunded)
    )
    if programme_id is not None:
        query = query.where(Membership.programme == programme_id)
    return await query.order_by(Membership.valid_until, ascending=False).first()


async def record(
    *,
    borrower: dict[str, Any],
    programme: dict[str, Any],
    status: MembershipStatus,
    method: str,
    actor: str,
    at: datetime,
    loan_id: int | None,
) -> dict[str, Any]:
    """Write a membership and its event; inside the caller's transaction."""
    start = at.date()
    fee = programme["membership_fee_cents"] if status == MembershipStatus.paid else 0
    until = valid_until(programme, start)
    rows = await Membership.insert(
        Membership(
            borrower=borrower["id"],
            programme=programme["id"],
            loan=loan_id,
            fee_cents=fee,
            valid_from=start,
            valid_until=until,
            status=str(status),
            method=method if status == MembershipStatus.paid else "",
            taken_by=actor,
            at=at,
        )
    ).returning(*Membership.all_columns())
    row = rows[0]
    await write_event(
        None,
        actor,
        f"membership_{status}",
        None,
        None,
        {
            "membership_id": row["id"],
            "borrower": borrower["code"],
            "programme_id": programme["id"],
            "fee_cents": fee,
            "valid_until": until.isoformat(),
            "method": row["method"],
        },
        loan_id=loan_id,
    )
    return row


async def of_loan(loan_id: int) -> dict[str, Any] | None:
    """The membership taken with a loan, or the one of its borrower valid when it opened."""
    taken = await Membership.select().where(Membership.loan == loan_id).first()
    if taken is not None:
        return taken
    loan = await Loan.select(Loan.borrower, Loan.opened_at).where(Loan.id == loan_id).first()
    if loan is None:
        return None
    return await current(loan["borrower"], loan["opened_at"].date())


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    payload = row["payload"]
    if isinstance(payload, str):
        payload = msgspec.json.decode(payload or "{}")
    return payload or {}


async def _programme_loans(programme_id: int) -> set[int]:
    rows = await Loan.select(Loan.id).where(Loan.programme == programme_id)
    return {r["id"] for r in rows}


async def report_figures(programme_id: int | None, start: date, end: date) -> MembershipFigures:
    """The period's figures from the events alone: memberships by their `programme_id`, deposits
    by their loan's programme, cessions by the programme in their payload."""
    low, high = _bounds(start, end)
    kinds = [*MEMBERSHIP_EVENTS, *DEPOSIT_EVENTS, "retire"]
    rows = await (
        Event.select(Event.kind, Event.at, Event.loan_id, Event.payload)
        .where(Event.kind.is_in(kinds) & (Event.at < high))
        .order_by(Event.id)
    )
    loans = await _programme_loans(programme_id) if programme_id is not None else None
    figures = MembershipFigures()
    deposit_state: dict[int, tuple[str, int]] = {}
    amounts: dict[int, int] = defaultdict(int)
    for row in rows:
        payload = _payload(row)
        in_period = row["at"] >= low
        kind = row["kind"]
        if kind in DEPOSIT_EVENTS:
            if loans is not None and row["loan_id"] not in loans:
                continue
            deposit_id = int(payload.get("deposit_id") or 0)
            if kind == "deposit_paid":
                amounts[deposit_id] = int(payload.get("amount_cents") or 0)
            deposit_state[deposit_id] = (kind, amounts[deposit_id])
            if in_period:
                figures.deposits_taken += kind == "deposit_paid"
                figures.deposits_refunded += kind == "deposit_refunded"
                figures.deposits_kept += kind == "deposit_kept"
            continue
        if programme_id is not None and payload.get("programme_id") != programme_id:
            continue
        if not in_period:
            continue
        if kind == "membership_paid":
            figures.memberships_paid += 1
            figures.membership_fees_cents += int(payload.get("fee_cents") or 0)
        elif kind == "membership_waived":
            figures.memberships_waived += 1
        elif kind == "retire" and payload.get("reason") == RetirementReason.given:
            figures.devices_given += 1
        elif kind == "retire" and payload.get("reason") == RetirementReason.sold:
            figures.devices_sold += 1
            figures.sales_cents += int(payload.get("price_cents") or 0)
    figures.deposits_held_cents = sum(
        amount for kind, amount in deposit_state.values() if kind == "deposit_paid"
    )
    return figures


async def audit_rows() -> list[tuple[str, str, str]]:
    """Memberships and deposits whose status is not the one their events lead to, as
    (area, subject, sentence) triples for loans.audit."""
    found: list[tuple[str, str, str]] = []
    events = await (
        Event.select(Event.kind, Event.payload)
        .where(Event.kind.is_in([*MEMBERSHIP_EVENTS, *DEPOSIT_EVENTS]))
        .order_by(Event.id)
    )
    last_membership: dict[int, str] = {}
    last_deposit: dict[int, str] = {}
    for event in events:
        payload = _payload(event)
        if event["kind"] in MEMBERSHIP_EVENTS:
            last_membership[int(payload.get("membership_id") or 0)] = MEMBERSHIP_EVENTS[
                event["kind"]
            ]
        else:
            last_deposit[int(payload.get("deposit_id") or 0)] = DEPOSIT_EVENTS[event["kind"]]
    for row in await Membership.select(Membership.id, Membership.status):
        told = last_membership.pop(row["id"], None)
        if told != row["status"]:
            found.append(
                (
                    "memberships",
                    f"adhésion {row['id']}",
                    f"L'adhésion n° {row['id']} est « {row['status']} » mais ses événements "
                    f"disent « {told or 'aucun'} ».",
                )
            )
    for row in await Deposit.select(Deposit.id, Deposit.status, Deposit.loan):
        told = last_deposit.pop(row["id"], None)
        if told != row["status"]:
            found.append(
                (
                    "deposits",
                    f"prêt n° {row['loan']}",
                    f"Le dépôt de garantie du prêt n° {row['loan']} est « {row['status']} » "
                    f"mais ses événements disent « {told or 'aucun'} ».",
                )
            )
    for membership_id in last_membership:
        found.append(
            (
                "memberships",
                f"adhésion {membership_id}",
                f"Un événement nomme l'adhésion n° {membership_id}, qui n'existe pas.",
            )
        )
    for deposit_id in last_deposit:
        found.append(
            (
                "deposits",
                f"dépôt {deposit_id}",
                f"Un événement nomme le dépôt n° {deposit_id}, qui n'existe pas.",
            )
        )
    return found
