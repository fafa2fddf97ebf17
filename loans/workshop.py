"""The workshop's side of repairs and retirement: the repair queue, repairs outside any loan,
and a device leaving the fleet (for parts, recycling, given or sold to a borrower).

The rules of each move stay in the lifecycle (inventory.lifecycle); this module gathers what
the loans domain knows (the borrower of a ticket, the recipient of a gift) around them.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid
from inventory.lifecycle import LEAVES_WITH_A_PERSON, WORKSHOP_REASONS
from inventory.states import DeviceState, RetirementReason
from inventory.tables import Device
from loans import repairs
from loans.tables import Borrower, Loan, RepairTicket

MAX_PRICE_CENTS = 1_000_000_00


async def _borrower_codes(loan_ids: set[int]) -> dict[int, str]:
    if not loan_ids:
        return {}
    rows = await Loan.select(Loan.id, Loan.borrower.code.as_alias("code")).where(
        Loan.id.is_in(sorted(loan_ids))
    )
    return {r["id"]: r["code"] for r in rows}


async def open_tickets() -> list[dict[str, Any]]:
    """Open tickets, oldest first, with the device and the borrower's code when on a loan."""
    rows = await (
        RepairTicket.select(
            RepairTicket.id,
            RepairTicket.loan,
            RepairTicket.fault,
            RepairTicket.opened_at,
            RepairTicket.actor,
            RepairTicket.device.asset_tag.as_alias("asset_tag"),
            RepairTicket.device.kind.as_alias("kind"),
            RepairTicket.device.brand.as_alias("brand"),
            RepairTicket.device.model.as_alias("model"),
        )
        .where(RepairTicket.closed_at.is_null())
        .order_by(RepairTicket.opened_at)
    )
    codes = await _borrower_codes({r["loan"] for r in rows if r["loan"]})
    for row in rows:
        row["borrower_code"] = codes.get(row["loan"]) if row["loan"] else None
    return rows


async def in_repair_without_ticket() -> list[dict[str, Any]]:
    """Devices put in repair (from the scan page) that no open ticket describes yet."""
    ticketed = RepairTicket.select(RepairTicket.device).where(RepairTicket.closed_at.is_null())
    ids = {r["device"] for r in await ticketed}
    rows = await (
        Device.select(Device.id, Device.asset_tag, Device.kind, Device.brand, Device.model)
        .where(Device.state == DeviceState.in_repair)
        .order_by(Device.updated_at)
    )
    return [r for r in rows if r["id"] not in ids]


async def recent_closed(limit: int = 20) -> list[dict[str, Any]]:
    return await (
        RepairTicket.select(
            RepairTicket.id,
            RepairTicket.outcome,
            RepairTicket.closed_at,
            RepairTicket.device.asset_tag.as_alias("asset_tag"),
        )
        .where(RepairTicket.closed_at.is_not_null())
        .order_by(RepairTicket.closed_at, ascending=False)
        .limit(limit)
    )


async def ticket_detail(ticket_id: int) -> dict[str, Any]:
    """One ticket with its device, the borrower's code and the replacement's tag."""
    ticket = await repairs.get_ticket(ticket_id)
    device = await Device.select().where(Device.id == ticket["device"]).first()
    ticket["device_row"] = device
    codes = await _borrower_codes({ticket["loan"]} if ticket["loan"] else set())
    ticket["borrower_code"] = codes.get(ticket["loan"]) if ticket["loan"] else None
    ticket["swap_tag"] = None
    if ticket["swap_device"]:
        swap = await Device.select(Device.asset_tag).where(Device.id == ticket["swap_device"])
        ticket["swap_tag"] = swap[0]["asset_tag"] if swap else None
    return ticket


class WorkshopRepairIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A repair outside any loan: the device's tag (as scanned) and what is wrong with it."""

    tag: Annotated[str, msgspec.Meta(max_length=300)]
    fault: Annotated[str, msgspec.Meta(max_length=2000)] = ""

    field_labels: ClassVar[dict[str, str]] = {"tag": "Appareil", "fault": "Panne"}


async def open_workshop_repair(data: WorkshopRepairIn, actor: str) -> int:
    """Put a device in repair at the workshop and open its ticket, in one transaction.

    A device already put in repair from the scan page only gets its ticket. The lifecycle says
    from which states (`repair_in_workshop`); a device on a loan is refused there.
    """
    fault = data.fault.strip()
    if not fault:
        raise Invalid("Décrivez la panne constatée.")
    if len(fault) > 2000:
        raise Invalid("Panne : 2000 caractères au plus.")
    async with write_transaction(RepairTicket):
        device = await devices.get_device(data.tag)
        if await RepairTicket.exists().where(
            (RepairTicket.device == device["id"]) & RepairTicket.closed_at.is_null()
        ):
            raise Conflict(f"{device['asset_tag']} a déjà un ticket de réparation ouvert.")
        if device["state"] != DeviceState.in_repair:
            await devices.apply_transition(
                device["asset_tag"],
                "repair_in_workshop",
                actor,
                note="Réparation à l'atelier",
            )
        return await repairs.open_ticket(device["id"], None, fault, actor)


_EUROS = re.compile(r"^\d{1,7}([.,]\d{1,2})?$")


def parse_euros(text: str) -> int | None:
    """ "35", "35,5" or "35,50 €" -> 3550 cents; blank -> None; Invalid otherwise."""
    cleaned = text.replace("€", "").replace("\u00a0", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if not _EUROS.match(cleaned):
        raise Invalid("Prix : un montant en euros, par exemple 35 ou 35,50.")
    try:
        return int(Decimal(cleaned.replace(",", ".")) * 100)
    except InvalidOperation:
        raise Invalid("Prix : un montant en euros, par exemple 35 ou 35,50.") from None


class RetireIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A device leaving the fleet from the workshop. For a gift or a sale, the recipient's
    borrower code and the price (in cents; a gift may be free)."""

    reason: Annotated[str, msgspec.Meta(max_length=20)]
    version: int | None = None
    recipient_code: Annotated[str, msgspec.Meta(max_length=20)] = ""
    price_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_CENTS)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "reason": "Motif",
        "version": "Version",
        "recipient_code": "Destinataire",
        "price_cents": "Prix",
        "note": "Remarque",
    }


def check_retirement(data: RetireIn) -> RetireIn:
    """The retirement as it will be recorded, or Invalid naming the wrong field."""
    if data.reason not in WORKSHOP_REASONS:
        raise Invalid("Motif : pièces détachées, recyclage DEEE, don ou vente.")
    code = data.recipient_code.strip().upper()
    with_person = data.reason in LEAVES_WITH_A_PERSON
    if with_person and not code:
        raise Invalid("Destinataire : le code de l'emprunteur qui reçoit l'appareil (B-…).")
    if not with_person and (code or data.price_cents):
        raise Invalid(
            "Destinataire et prix ne concernent qu'un don ou une vente : videz-les ou "
            "changez de motif."
        )
    price = data.price_cents
    if price is not None and not 0 <= price <= MAX_PRICE_CENTS:
        raise Invalid("Prix : un montant positif en euros.")
    if data.reason == RetirementReason.sold and not price:
        raise Invalid("Prix : une vente se fait à un prix (en euros).")
    if len(data.note) > 500:
        raise Invalid("Remarque : 500 caractères au plus.")
    return RetireIn(data.reason, data.version, code, price, data.note.strip())


async def retire_device(tag: str, data: RetireIn, actor: str) -> dict[str, Any]:
    """Retire a device; the `retire` event carries the reason, recipient and price in cents."""
    retirement = check_retirement(data)
    details: dict[str, Any] = {}
    async with write_transaction(Device):
        if retirement.recipient_code:
            recipient = (
                await Borrower.select(Borrower.id, Borrower.anonymised_at)
                .where(Borrower.code == retirement.recipient_code)
                .first()
            )
            if recipient is None:
                raise Invalid(
                    f"Destinataire : aucun emprunteur ne porte le code {retirement.recipient_code}."
                )
            if recipient["anonymised_at"] is not None:
                raise Invalid("Destinataire : les données de cet emprunteur ont été effacées.")
            details["recipient_code"] = retirement.recipient_code
            details["price_cents"] = retirement.price_cents or 0
        return await devices.apply_transition(
            tag,
            "retire",
            actor,
            reason=retirement.reason,
            note=retirement.note,
            expected_version=retirement.version,
            details=details,
        )
