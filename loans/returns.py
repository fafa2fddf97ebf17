"""Returns (DESIGN section 2): end of loan → `to_wipe`; repair → `in_repair`, loan stays open,
optional swap; loss or theft → retired. Each step writes its events in one transaction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.errors import Conflict, FieldInvalid
from inventory.states import KINDS_WITHOUT_STORAGE, N_, DeviceKind
from loans import deposits, queries, repairs
from loans.tables import DeviceReturn, LoanDevice

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class ReturnReason(StrEnum):
    end = "end"
    repair = "repair"
    lost = "lost"
    stolen = "stolen"


REASONS = tuple(ReturnReason)
REASON_LABELS = {
    ReturnReason.end: N_("Fin de prêt (l'appareil part à l'effacement)"),
    ReturnReason.repair: N_("Réparation pendant le prêt (rendu au même emprunteur)"),
    ReturnReason.lost: N_("Perte"),
    ReturnReason.stolen: N_("Vol (référence du dépôt de plainte)"),
}


class ReturnIn(msgspec.Struct, forbid_unknown_fields=True):
    """A device handed back (POST /api/v1/loans/returns, the /returns checklist). `tag` may be
    left empty by code that names the device apart (`check_in(tag, data, actor)`)."""

    reason: ReturnReason
    charger: bool = False
    bag: bool = False
    damage: bool = False
    damage_notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    police_report: Annotated[str, msgspec.Meta(max_length=80)] = ""
    swap_tag: Tag | None = None
    tag: Annotated[str, msgspec.Meta(max_length=300)] = ""
    # The loan's deposit, settled with this return: refunded, or kept with its reason.
    deposit_outcome: deposits.Settlement | None = None
    deposit_reason: Annotated[str, msgspec.Meta(max_length=500)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "tag": "Appareil rendu",
        "reason": "Motif",
        "charger": "Chargeur",
        "bag": "Sacoche",
        "damage": "Dégâts",
        "damage_notes": "Notes",
        "police_report": "Référence du dépôt de plainte",
        "swap_tag": "Appareil de remplacement",
        "deposit_outcome": "Dépôt de garantie",
        "deposit_reason": "Motif de la retenue du dépôt",
    }


def _check(data: ReturnIn) -> ReturnIn:
    data = checked(data)
    if data.reason == ReturnReason.stolen and not data.police_report.strip():
        raise FieldInvalid(
            "police_report", "Un vol se déclare avec la référence du dépôt de plainte."
        )
    if data.swap_tag and data.reason != ReturnReason.repair:
        raise FieldInvalid(
            "swap_tag", "Un appareil de remplacement ne se donne qu'avec une réparation."
        )
    if data.deposit_outcome == deposits.Settlement.kept and not data.deposit_reason.strip():
        raise FieldInvalid(
            "deposit_reason", "Un dépôt de garantie conservé l'est pour un motif : écrivez-le."
        )
    return data


async def take_back(data: ReturnIn, actor: str) -> dict[str, Any]:
    """The service of the API and the page: the device named by the command's `tag`."""
    if not data.tag.strip():
        raise FieldInvalid("tag", "Appareil rendu : champ obligatoire.")
    return await check_in(data.tag, data, actor)


async def check_in(tag: str, data: ReturnIn, actor: str) -> dict[str, Any]:
    """Take a device back from its loan; returns the loan as it now stands."""
    data = _check(data)
    async with write_transaction(LoanDevice):
        device = await devices.get_device(tag)
        link = await queries.open_loan_of(device["id"])
        if link is None:
            raise Conflict(f"L'appareil {device['asset_tag']} n'est sur aucun prêt en cours.")
        loan_id = link["loan"]
        at = now()
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
            await _leave(link["id"], "returned", at)
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
                reason=str(data.reason),
                # The police reference is personal data: it lives in DeviceReturn only, which
                # erasure blanks; the append-only trail just says a complaint was filed.
                note="Plainte déposée" if data.police_report.strip() else "",
                loan_id=loan_id,
            )
            await _leave(link["id"], str(data.reason), at)
        await DeviceReturn.insert(
            DeviceReturn(
                loan=loan_id,
                device=device["id"],
                reason=str(data.reason),
                charger=data.charger,
                bag=data.bag,
                damage=data.damage,
                damage_notes=data.damage_notes.strip(),
                police_report=data.police_report.strip(),
                at=at,
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
                "reason": str(data.reason),
                "charger": data.charger,
                "bag": data.bag,
                "damage": data.damage,
                "police_report_filed": bool(data.police_report.strip()),
            },
            loan_id=loan_id,
        )
        if data.deposit_outcome is not None:
            settlement = deposits.DepositSettleIn(data.deposit_outcome, data.deposit_reason)
            await deposits.settle_in_transaction(loan_id, settlement, actor)
        await repairs.close_loan_if_done(loan_id, actor)
        return await queries.loan_detail(loan_id)


async def _leave(link_id: int, outcome: str, at: datetime) -> None:
    await LoanDevice.update({LoanDevice.returned_at: at, LoanDevice.outcome: outcome}).where(
        LoanDevice.id == link_id
    )
