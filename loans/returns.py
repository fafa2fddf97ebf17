"""Returns (DESIGN section 2): end of loan → `to_wipe`; repair → `in_repair`, loan stays open,
optional swap; loss or theft → retired. Each step writes its events in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inventory import devices
from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid
from inventory.states import KINDS_WITHOUT_STORAGE, DeviceKind
from loans import queries, repairs
from loans.tables import DeviceReturn, LoanDevice

REASONS = ("end", "repair", "lost", "stolen")


@dataclass
class ReturnIn:
    reason: str
    charger: bool = False
    bag: bool = False
    damage: bool = False
    damage_notes: str = ""
    police_report: str = ""
    swap_tag: str | None = None


def _check(data: ReturnIn) -> None:
    if data.reason not in REASONS:
        raise Invalid("Motif de retour attendu : end, repair, lost ou stolen.")
    if data.reason == "stolen" and not data.police_report.strip():
        raise Invalid("Un vol se déclare avec la référence du dépôt de plainte.")
    if len(data.damage_notes) > 2000 or len(data.police_report) > 80:
        raise Invalid("Notes : 2000 caractères au plus ; référence de plainte : 80.")
    if data.swap_tag and data.reason != "repair":
        raise Invalid("Un appareil de remplacement ne se donne qu'avec une réparation.")


async def check_in(tag: str, data: ReturnIn, actor: str) -> dict[str, Any]:
    """Take a device back from its loan; returns the loan as it now stands."""
    _check(data)
    async with write_transaction(LoanDevice):
        device = await devices.get_device(tag)
        link = await queries.open_loan_of(device["id"])
        if link is None:
            raise Conflict(f"L'appareil {device['asset_tag']} n'est sur aucun prêt en cours.")
        loan_id = link["loan"]
        now = datetime.now(UTC)
        if data.reason == "end":
            if device["state"] != "loaned":
                raise Conflict(
                    f"L'appareil {device['asset_tag']} est en réparation : clôturez d'abord "
                    "son ticket."
                )
            without_storage = DeviceKind(device["kind"]) in KINDS_WITHOUT_STORAGE
            name = "return_without_storage" if without_storage else "return_end"
            await devices.apply_transition(
                device["asset_tag"],
                name,
                actor,
                loan_id=loan_id,
            )
            await _leave(link["id"], "returned", now)
        elif data.reason == "repair":
            await devices.apply_transition(
                device["asset_tag"],
                "repair_during_loan",
                actor,
                loan_id=loan_id,
            )
            ticket = await repairs.open_ticket(device["id"], loan_id, data.damage_notes, actor)
            if data.swap_tag:
                fresh = await devices.get_device(tag)
                new = await repairs.swap(loan_id, fresh, data.swap_tag, actor)
                await repairs.RepairTicket.update(
                    {repairs.RepairTicket.swap_device: new["id"]}
                ).where(repairs.RepairTicket.id == ticket)
        else:
            await devices.apply_transition(
                device["asset_tag"],
                "declare_lost",
                actor,
                reason=data.reason,
                # The police reference is personal data: it lives in DeviceReturn only, which
                # erasure blanks; the append-only trail just says a complaint was filed.
                note="Plainte déposée" if data.police_report.strip() else "",
                loan_id=loan_id,
            )
            await _leave(link["id"], data.reason, now)
        await DeviceReturn.insert(
            DeviceReturn(
                loan=loan_id,
                device=device["id"],
                reason=data.reason,
                charger=data.charger,
                bag=data.bag,
                damage=data.damage,
                damage_notes=data.damage_notes.strip(),
                police_report=data.police_report.strip(),
                at=now,
                actor=actor,
            )
        )
        await devices.write_event(
            device["id"],
            actor,
            "check_in",
            None,
            None,
            {
                "reason": data.reason,
                "charger": data.charger,
                "bag": data.bag,
                "damage": data.damage,
                "police_report_filed": bool(data.police_report.strip()),
            },
            loan_id=loan_id,
        )
        await repairs.close_loan_if_done(loan_id, actor)
        return await queries.loan_detail(loan_id)


async def _leave(link_id: int, outcome: str, at: datetime) -> None:
    await LoanDevice.update({LoanDevice.returned_at: at, LoanDevice.outcome: outcome}).where(
        LoanDevice.id == link_id
    )
