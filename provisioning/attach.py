"""Attach a record made without a device (hot-plug bench, station) to the device scanned later.

One transaction: the record takes the device's tag, donor and site and is signed again (the
signed payload names the device); the disk joins the device; a `sanitization_attached` event
keeps what changed; a pass that still counts (finished after the device's last custody change)
is written to the device's history as a `disk_sanitized` proof and may move it to `wiped`.
A misread tag, a record already attached elsewhere or a disk of another device is refused.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.db import write_transaction
from inventory.errors import Conflict, NotFound
from inventory.history import DISK_SANITIZED, PastEvent, is_custody_change
from inventory.states import DeviceState
from inventory.tables import Device, Disk, Event
from provisioning import certificates, records
from provisioning.tables import SanitizationRecord, Status

ATTACHED = "sanitization_attached"
# A disk may join a device only while no image proof stands on its disks.
JOINABLE_STATES = {DeviceState.received, DeviceState.to_wipe, DeviceState.wiped}


class AttachRecord(msgspec.Struct, forbid_unknown_fields=True):
    """The command that attaches a sanitization record to the device whose tag was scanned."""

    field_labels: ClassVar[dict[str, str]] = {
        "record_id": "Relevé d'effacement",
        "asset_tag": "Étiquette",
    }

    record_id: Annotated[int, msgspec.Meta(ge=1)]
    asset_tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


def _aware(moment: Any) -> Any:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


async def _last_custody_change(device_id: int) -> Any:
    """When the device last changed hands (intake, return, swap), or None."""
    rows = await (
        Event.select(Event.kind, Event.payload, Event.at)
        .where(Event.device == device_id)
        .order_by(Event.id)
        .output(load_json=True)
    )
    moments = [
        r["at"] for r in rows if is_custody_change(PastEvent(kind=r["kind"], payload=r["payload"]))
    ]
    return _aware(moments[-1]) if moments else None


async def attach(command: AttachRecord, actor: str) -> dict[str, Any]:
    """Attach the record (and its disk) to the tagged device; the record as it now stands.

    Attaching again to the same device changes nothing and answers the same record.
    """
    async with write_transaction(SanitizationRecord):
        device = await devices.get_device(command.asset_tag)  # TagError for a misread
        record = await records.get(command.record_id)
        tag = device["asset_tag"]
        if record["device"] == device["id"]:
            return record
        if record["device"] is not None:
            raise Conflict(
                f"Le relevé {record['id']} est déjà rattaché à l'appareil {record['asset_tag']}, "
                f"pas à {tag} : un relevé ne change pas d'appareil."
            )
        if record["status"] == Status.running:
            raise Conflict(
                f"Le relevé {record['id']} est encore en cours : rattachez-le "
                "une fois l'effacement terminé."
            )
        disk = await Disk.select().where(Disk.id == record["disk"]).first()
        if disk is None:
            raise NotFound(f"Disque {record['disk']} inconnu.")
        if disk["device"] not in (None, device["id"]):
            owner = await Device.select(Device.asset_tag).where(Device.id == disk["device"]).first()
            raise Conflict(
                f"Ce disque ({record['media_serial'] or record['media_model'] or disk['id']}) "
                f"appartient à l'appareil {owner['asset_tag'] if owner else '?'}, pas à {tag}."
            )
        state = DeviceState(device["state"])
        joins = disk["device"] is None
        if joins and state not in JOINABLE_STATES:
            raise Conflict(
                f"L'appareil {tag} est dans l'état « {device['state']} » : un disque ne s'y ajoute "
                "pas ; renvoyez-le d'abord à l'effacement."
            )
        custody = await _last_custody_change(device["id"])
        finished = _aware(record["finished_at"])
        counts = (
            record["status"] == Status.passed
            and state in JOINABLE_STATES
            and (custody is None or (finished is not None and finished > custody))
        )
        if joins and state == DeviceState.wiped and not counts:
            raise Conflict(
                f"L'appareil {tag} est effacé ; ce disque n'a pas d'effacement réussi depuis que "
                "l'appareil est arrivé : renvoyez l'appareil à l'effacement d'abord."
            )
        context = await records.device_context(device["id"])
        before = {k: record[k] for k in ("asset_tag", "source", "site")}
        await SanitizationRecord.update(
            {getattr(SanitizationRecord, k): v for k, v in context.items()}
        ).where(SanitizationRecord.id == record["id"])
        if joins:
            await Disk.update({Disk.device: device["id"]}).where(Disk.id == disk["id"])
        superseded = await _sign_again(record["id"])
        payload = {
            "record_id": record["id"],
            "disk_id": disk["id"],
            "certificate_id": record["certificate_id"],
            "before": before,
            "counts": counts,
        }
        if superseded:
            payload["superseded_pdf"] = superseded
        await devices.write_event(device["id"], actor, ATTACHED, None, None, payload)
        if counts:
            details = {
                "record_id": record["id"],
                "method_type": record["method_type"],
                "status": record["status"],
                "certificate_id": record["certificate_id"],
                "attached": True,
                "disk_id": disk["id"],
                "passed": True,
            }
            await devices.write_event(device["id"], actor, DISK_SANITIZED, None, None, details)
            await records.advance_device(device["id"], actor)
        return await records.get(record["id"])


async def _sign_again(record_id: int) -> str:
    """Sign a certified record again now that it names its device; the PDF issued before (its
    SHA-256, returned) is kept in the record's notes and a new one is laid out on request."""
    record = await records.get(record_id)
    if not record["signature"]:
        return ""
    key_id, signature = certificates.sign(record)
    notes = dict(record["notes"] or {})
    old = record["certificate_sha256"] or ""
    if old:
        notes["superseded_pdfs"] = [*notes.get("superseded_pdfs", []), old]
    await SanitizationRecord.update(
        {
            SanitizationRecord.key_id: key_id,
            SanitizationRecord.signature: signature,
            SanitizationRecord.certificate_sha256: "",
            SanitizationRecord.notes: notes,
        }
    ).where(SanitizationRecord.id == record_id)
    return old


async def unattached(limit: int = 100) -> list[dict[str, Any]]:
    """Closed records without a device (hot-plug bench, stations), newest first."""
    return await (
        SanitizationRecord.select()
        .where(SanitizationRecord.device.is_null() & (SanitizationRecord.status != Status.running))
        .order_by(SanitizationRecord.id, ascending=False)
        .limit(limit)
    )
