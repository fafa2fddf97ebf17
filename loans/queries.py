"""Reading loans: one loan with its devices and signature, lists, the open loan of a device."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from inventory.errors import NotFound
from inventory.tables import Device, Event
from loans.tables import Borrower, Loan, LoanDevice, Signature


class LoanDeviceOut(msgspec.Struct):
    asset_tag: str
    serial: str | None
    state: str
    out_at: datetime
    returned_at: datetime | None
    outcome: str


class SignatureOut(msgspec.Struct):
    id: int
    loan: int
    method: str
    image_sha256: str
    signer_name: str
    signer_role: str
    signed_at: datetime
    staff_actor: str


class LoanOut(msgspec.Struct):
    """One loan with its devices and its signature (GET /api/v1/loans/{id}, a checkout, a
    return)."""

    id: int
    borrower: int
    borrower_code: str
    programme: int | None
    charter: int
    charter_version: int
    charter_text: str
    accessories: list[str]
    condition_out: str
    due_on: date | None
    deposit_cents: int
    status: str
    opened_at: datetime
    closed_at: datetime | None
    document_sha256: str
    created_by: str
    devices: list[LoanDeviceOut]
    signature: SignatureOut | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LoanOut:
        return msgspec.convert(row, cls)


class LoanLine(msgspec.Struct):
    id: int
    borrower_code: str
    charter_version: int
    status: str
    opened_at: datetime
    due_on: date | None
    closed_at: datetime | None
    document_sha256: str


class LoanPage(msgspec.Struct):
    items: list[LoanLine]
    total: int
    limit: int
    offset: int


class LoanEvent(msgspec.Struct):
    """An event of a loan's trail, as stored."""

    id: int
    device: int | None
    loan_id: int | None
    actor: str
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any]


async def loan_detail(loan_id: int) -> dict[str, Any]:
    loan = await Loan.select().where(Loan.id == loan_id).first().output(load_json=True)
    if loan is None:
        raise NotFound(f"Prêt {loan_id} inconnu.")
    borrower = await Borrower.select(Borrower.code).where(Borrower.id == loan["borrower"]).first()
    loan["borrower_code"] = borrower["code"] if borrower else ""
    loan["devices"] = await (
        LoanDevice.select(
            LoanDevice.device.asset_tag.as_alias("asset_tag"),
            LoanDevice.device.serial.as_alias("serial"),
            LoanDevice.device.state.as_alias("state"),
            LoanDevice.out_at,
            LoanDevice.returned_at,
            LoanDevice.outcome,
        )
        .where(LoanDevice.loan == loan_id)
        .order_by(LoanDevice.id)
    )
    loan["signature"] = await Signature.select().where(Signature.loan == loan_id).first()
    return loan


async def loan_events(loan_id: int) -> list[dict[str, Any]]:
    return await (
        Event.select().where(Event.loan_id == loan_id).order_by(Event.id).output(load_json=True)
    )


async def list_loans(
    *, status: str | None = None, borrower_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    where = []
    if status:
        where.append(Loan.status == status)
    if borrower_id is not None:
        where.append(Loan.borrower == borrower_id)
    query = Loan.select(
        Loan.id,
        Loan.borrower.code.as_alias("borrower_code"),
        Loan.charter_version,
        Loan.status,
        Loan.opened_at,
        Loan.due_on,
        Loan.closed_at,
        Loan.document_sha256,
    ).order_by(Loan.id, ascending=False)
    count = Loan.count()
    if where:
        query, count = query.where(*where), count.where(*where)
    return await query.limit(limit).offset(offset), await count


async def open_loan_of(device_id: int) -> dict[str, Any] | None:
    """The loan a device is currently on (not returned), if any."""
    return await (
        LoanDevice.select(LoanDevice.id, LoanDevice.loan)
        .where((LoanDevice.device == device_id) & LoanDevice.returned_at.is_null())
        .first()
    )


async def overdue_loans(today: date) -> list[dict[str, Any]]:
    return await (
        Loan.select(Loan.id, Loan.borrower.code.as_alias("borrower_code"), Loan.due_on)
        .where((Loan.status == "open") & (Loan.due_on < today))
        .order_by(Loan.due_on)
    )


async def device_ids(tags: list[str]) -> dict[str, int]:
    rows = await Device.select(Device.id, Device.asset_tag).where(Device.asset_tag.is_in(tags))
    return {r["asset_tag"]: r["id"] for r in rows}
