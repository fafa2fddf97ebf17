"""What a scan can do to a device: look it up, or apply the batch action chosen once for many."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import DeviceOut, get_device, write_event
from inventory.errors import Conflict, DomainError, Invalid
from inventory.states import N_
from inventory.tables import Device, Site


class BatchAction(StrEnum):
    """What a scan does, chosen once for a run of scans. Transitions reuse the lifecycle."""

    lookup = "lookup"
    triage = "triage"
    set_site = "set_site"
    audit = "audit"
    repair_in_workshop = "repair_in_workshop"


# Batch actions offered at the scan page: name -> French label.
BATCH_ACTIONS: dict[str, str] = {
    BatchAction.lookup: N_("Consulter"),
    BatchAction.triage: N_("Trier : à effacer"),
    BatchAction.set_site: N_("Changer de site"),
    BatchAction.audit: N_("Inventaire (pointer présent)"),
    BatchAction.repair_in_workshop: N_("Mettre en réparation"),
}


class ScanIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One scanned code (a bare tag or a /d/<tag> URL) and the action chosen for the run."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    action: BatchAction = BatchAction.lookup
    site_id: int | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "code": "Code scanné",
        "action": "Action",
        "site_id": "Site de destination",
    }


class ScanOut(msgspec.Struct):
    device: DeviceOut
    action: str


class ChangeRefused(DomainError):
    """The person's role may look devices up but not change them (HTTP 403)."""

    status_code = 403


async def scan(data: ScanIn, actor: str, *, may_change: bool) -> ScanOut:
    """The service behind the scan API and the no-JavaScript scan form: the device after the
    action, with the transitions allowed now. `may_change` is false for read-only roles."""
    data = checked(data)
    if data.action != BatchAction.lookup and not may_change:
        raise ChangeRefused("Votre rôle permet de consulter, pas de modifier.")
    if data.action in (BatchAction.triage, BatchAction.repair_in_workshop):
        command = devices.TransitionIn(transition=data.action.value)
        return ScanOut(await devices.transition_device(data.code, command, actor), data.action)
    row = await apply_batch_action(data.code, data.action, actor, site_id=data.site_id)
    allowed = await devices.generic_transitions(row)
    return ScanOut(DeviceOut.from_row(row, allowed), data.action)


async def set_site(code: str, site_id: int, actor: str) -> dict[str, Any]:
    """Move a device to another site; its state does not change, its history says where."""
    async with write_transaction(Device):
        device = await get_device(code)
        site = await Site.select(Site.id, Site.name).where(Site.id == site_id).first()
        if site is None:
            raise Invalid(f"Site {site_id} inconnu.")
        if device["site"] == site_id:
            raise Conflict(f"{device['asset_tag']} est déjà au site « {site['name']} ».")
        updated = (
            await Device.update(
                {Device.site: site_id, Device.version: Device.version + 1, Device.updated_at: now()}
            )
            .where((Device.id == device["id"]) & (Device.version == device["version"]))
            .returning(Device.id)
        )
        if not updated:
            raise Conflict(f"L'appareil {device['asset_tag']} vient d'être modifié par ailleurs.")
        payload = {"from_site": device["site"], "to_site": site_id, "site_name": site["name"]}
        await write_event(device["id"], actor, "site_changed", None, None, payload)
        return await get_device(code)


async def record_audit(code: str, actor: str, site_id: int | None = None) -> dict[str, Any]:
    """Note that a device was seen during a stock-take (and where)."""
    async with write_transaction(Device):
        device = await get_device(code)
        payload = {"site_id": site_id if site_id is not None else device["site"]}
        await write_event(device["id"], actor, "audited", None, None, payload)
        return device


async def apply_batch_action(
    code: str, action: str, actor: str, *, site_id: int | None = None
) -> dict[str, Any]:
    """Apply one scan's action; every refusal is a sentence naming the device (the row)."""
    if action not in BATCH_ACTIONS:
        raise Invalid(f"Action inconnue : « {action} ».")
    if action == "lookup":
        return await get_device(code)
    if action == "set_site":
        if site_id is None:
            raise Invalid("Choisissez le site de destination.")
        return await set_site(code, site_id, actor)
    if action == "audit":
        return await record_audit(code, actor, site_id)
    return await devices.apply_transition(code, action, actor)
