"""What a scan can do to a device: look it up, or apply the batch action chosen once for many."""

from __future__ import annotations

from typing import Any

from inventory import devices
from inventory.db import write_transaction
from inventory.devices import get_device, now, write_event
from inventory.errors import Conflict, Invalid
from inventory.states import N_
from inventory.tables import Device, Site

# Batch actions offered at the scan page: name -> French label. Transitions reuse the lifecycle.
BATCH_ACTIONS = {
    "lookup": N_("Consulter"),
    "triage": N_("Trier : à effacer"),
    "set_site": N_("Changer de site"),
    "audit": N_("Inventaire (pointer présent)"),
    "repair_in_workshop": N_("Mettre en réparation"),
}


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
    """Apply one scan's action; every refusal is a sentence naming the device."""
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
