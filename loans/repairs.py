"""Repair tickets: fault, actions, parts, outcome. A repaired device goes back to its borrower
without a wipe; a swapped one leaves the loan for `to_wipe` and a ready device takes its place."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from inventory import devices
from inventory.clock import now
from inventory.commands import build, checked
from inventory.db import write_transaction
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from inventory.states import DeviceState
from inventory.tables import Device
from loans import mediation, queries
from loans.tables import Loan, LoanDevice, RepairTicket


class RepairOutcome(StrEnum):
    repaired = "repaired"
    swapped = "swapped"
    not_repairable = "not_repairable"


OUTCOMES = tuple(RepairOutcome)
# A device not worth repairing outside a loan leaves the fleet for one of these reasons.
SCRAP_REASONS = ("parts", "recycled_weee")
ScrapReason = Literal["parts", "recycled_weee"]


class RepairCloseIn(msgspec.Struct, forbid_unknown_fields=True):
    """Close a repair ticket (POST /api/v1/repairs/{id}/close, the workshop's form)."""

    outcome: RepairOutcome
    actions: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    parts: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    swap_tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    # Outside a loan, a device not worth repairing leaves the fleet for parts or recycling.
    retire_reason: ScrapReason = "parts"

    field_labels: ClassVar[dict[str, str]] = {
        "outcome": "Issue",
        "actions": "Actions menées",
        "parts": "Pièces",
        "swap_tag": "Appareil de remplacement",
        "retire_reason": "Destination",
    }


class RepairTicketOut(msgspec.Struct):
    id: int
    device: int
    loan: int | None
    fault: str
    actions: str
    parts: str
    outcome: str
    swap_device: int | None
    opened_at: datetime
    closed_at: datetime | None
    actor: str


async def open_ticket(device_id: int, loan_id: int | None, fault: str, actor: str) -> int:
    """Called inside the transaction that moves the device to `in_repair`."""
    rows = await RepairTicket.insert(
        RepairTicket(
            device=device_id, loan=loan_id, fault=fault[:2000], opened_at=now(), actor=actor
        )
    ).returning(RepairTicket.id)
    return rows[0]["id"]


async def swap(loan_id: int, old: dict[str, Any], new_tag: str, actor: str) -> dict[str, Any]:
    """Inside a transaction: `old` (in repair) leaves the loan for `to_wipe`, `new_tag` joins it."""
    new = await devices.get_device(new_tag)
    if new["id"] == old["id"]:
        raise Invalid("L'appareil de remplacement doit être un autre appareil.")
    if new["state"] != DeviceState.ready:
        raise Conflict(f"L'appareil de remplacement {new['asset_tag']} n'est pas prêt.")
    await LoanDevice.update({LoanDevice.returned_at: now(), LoanDevice.outcome: "swapped"}).where(
        (LoanDevice.loan == loan_id) & (LoanDevice.device == old["id"])
    )
    await devices.apply_transition(
        old["asset_tag"],
        "swap_out",
        actor,
        note=f"Remplacé par {new['asset_tag']}",
        loan_id=loan_id,
    )
    await devices.apply_transition(
        new["asset_tag"],
        "checkout",
        actor,
        note=f"Remplace {old['asset_tag']} sur le même prêt et la même charte",
        expected_version=new["version"],
        domain_facts={"charter_signed": True},
        loan_id=loan_id,
    )
    await LoanDevice.insert(LoanDevice(loan=loan_id, device=new["id"], out_at=now()))
    return new


async def close_ticket(
    ticket_id: int,
    *,
    outcome: str,
    actions: str,
    parts: str = "",
    actor: str,
    swap_tag: str | None = None,
    retire_reason: str = "parts",
) -> dict[str, Any]:
    """`close` from plain values (code and tests); a bad value is refused as by the API."""
    if not (actions or "").strip():
        raise FieldInvalid("actions", "Décrivez les actions menées.")
    values = {
        "outcome": outcome,
        "actions": actions,
        "parts": parts,
        "swap_tag": swap_tag or None,
        "retire_reason": retire_reason,
    }
    return await close(ticket_id, build(RepairCloseIn, values), actor)


async def close(ticket_id: int, data: RepairCloseIn, actor: str) -> dict[str, Any]:
    """Close a ticket: `repaired` (back to the borrower, or to `ready` in the workshop),
    `swapped` (a ready device replaces it on the loan) or `not_repairable` (on a loan, swapped;
    in the workshop, retired for parts or recycling)."""
    data = checked(data)
    outcome, actions, parts = data.outcome, data.actions, data.parts
    swap_tag, retire_reason = data.swap_tag, data.retire_reason
    if not actions.strip():
        raise FieldInvalid("actions", "Décrivez les actions menées.")
    if outcome == RepairOutcome.swapped and not swap_tag:
        raise FieldInvalid("swap_tag", "Scannez l'appareil de remplacement.")
    async with write_transaction(RepairTicket):
        ticket = await RepairTicket.select().where(RepairTicket.id == ticket_id).first()
        if ticket is None:
            raise NotFound(f"Ticket de réparation {ticket_id} inconnu.")
        if ticket["closed_at"] is not None:
            raise Conflict("Ce ticket de réparation est déjà clos.")
        device = await Device.select().where(Device.id == ticket["device"]).first()
        if device is None:
            raise NotFound(f"Appareil du ticket {ticket_id} introuvable.")
        link = await queries.open_loan_of(device["id"])
        loan_id = link["loan"] if link else None
        swap_device = None
        if outcome == "repaired":
            name = "repaired_to_borrower" if loan_id else "repaired"
            await devices.apply_transition(
                device["asset_tag"],
                name,
                actor,
                note=f"Ticket {ticket_id}",
                loan_id=loan_id,
            )
        elif outcome == "not_repairable" and loan_id is None:
            await devices.apply_transition(
                device["asset_tag"],
                "retire",
                actor,
                reason=retire_reason,
                note=f"Ticket {ticket_id} : non réparable",
            )
        else:
            if loan_id is None:
                raise Conflict("Un échange ne se fait que pour un appareil en prêt.")
            if not swap_tag:
                raise Invalid(
                    "Un appareil prêté non réparable est échangé : scannez l'appareil de "
                    "remplacement."
                )
            swap_device = (await swap(loan_id, device, swap_tag or "", actor))["id"]
        await RepairTicket.update(
            {
                RepairTicket.actions: actions.strip()[:2000],
                RepairTicket.parts: (parts or "").strip()[:1000],
                RepairTicket.outcome: str(outcome),
                RepairTicket.swap_device: swap_device,
                RepairTicket.closed_at: now(),
            }
        ).where(RepairTicket.id == ticket_id)
        return await get_ticket(ticket_id)


async def get_ticket(ticket_id: int) -> dict[str, Any]:
    row = await RepairTicket.select().where(RepairTicket.id == ticket_id).first()
    if row is None:
        raise NotFound(f"Ticket de réparation {ticket_id} inconnu.")
    return row


async def close_loan_if_done(loan_id: int, actor: str) -> bool:
    """Inside a transaction: a loan whose devices all left it is closed, with its event."""
    remaining = await LoanDevice.count().where(
        (LoanDevice.loan == loan_id) & LoanDevice.returned_at.is_null()
    )
    if remaining:
        return False
    await Loan.update({Loan.status: "closed", Loan.closed_at: now()}).where(
        (Loan.id == loan_id) & (Loan.status == "open")
    )
    # Its planned sessions are cancelled with the reason, then the loan's closing is written.
    await mediation.cancel_sessions_of_loan(loan_id, await _closing_reason(loan_id), actor)
    await devices.write_event(None, actor, "loan_closed", None, None, {}, loan_id=loan_id)
    return True


CLOSING_REASONS = {
    "lost": "Prêt clôturé : appareil perdu",
    "stolen": "Prêt clôturé : appareil volé",
    "returned": "Prêt clôturé : appareil rendu",
}


async def _closing_reason(loan_id: int) -> str:
    """Why a loan closed, in words, for the sessions it cancels: loss or theft first."""
    outcomes = {
        r["outcome"]
        for r in await LoanDevice.select(LoanDevice.outcome).where(LoanDevice.loan == loan_id)
    }
    for outcome, sentence in CLOSING_REASONS.items():
        if outcome in outcomes:
            return sentence
    return "Prêt clôturé"
