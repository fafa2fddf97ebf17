"""Device services: look-up, listing, transitions with their events, wipe and image proofs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inventory import lifecycle
from inventory.db import contains, write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from inventory.history import DISK_SANITIZED, IMAGE_VERIFIED, PastEvent, storage_facts
from inventory.kinds import parse_kind
from inventory.states import KIND_LABELS_FR, KINDS_WITHOUT_STORAGE, DeviceKind, DeviceState, Grade
from inventory.tables import Device, Disk, Event
from inventory.tags import parse_tag


def now() -> datetime:
    return datetime.now(UTC)


async def get_device(code: str) -> dict[str, Any]:
    """The device a scanned code names; TagError for a misread, NotFound for an unknown tag."""
    tag = str(parse_tag(code))
    row = await Device.select().where(Device.asset_tag == tag).first().output(load_json=True)
    if row is None:
        raise NotFound(f"Aucun appareil ne porte l'étiquette {tag}.")
    return row


async def device_disks(device_id: int) -> list[dict[str, Any]]:
    return await Disk.select().where(Disk.device == device_id).order_by(Disk.id)


async def device_events(device_id: int) -> list[dict[str, Any]]:
    return await (
        Event.select().where(Event.device == device_id).order_by(Event.id).output(load_json=True)
    )


async def device_facts(device: dict[str, Any], **domain_facts: Any) -> lifecycle.Facts:
    """Gather what the guards need from the history; other domains add what only they know.

    The open loan comes from the events, never from the caller: a path that forgets the loan
    cannot move a device out of it (invariant 8).
    """
    has_storage = DeviceKind(device["kind"]) not in KINDS_WITHOUT_STORAGE
    events = [
        PastEvent(
            kind=e["kind"], to_state=e["to_state"], payload=e["payload"] or {}, loan_id=e["loan_id"]
        )
        for e in await device_events(device["id"])
    ]
    disk_ids = [d["id"] for d in await device_disks(device["id"])]
    sanitized, imaged = storage_facts(events, disk_ids)
    return lifecycle.Facts(
        has_storage=has_storage,
        disks_sanitized=sanitized,
        image_verified=imaged,
        open_loan=lifecycle.open_loan((e.kind, e.loan_id) for e in events),
        **domain_facts,
    )


async def generic_transitions(device: dict[str, Any]) -> list[str]:
    """Transitions the generic path (scan page, device card, API) may apply to `device` now."""
    facts = await device_facts(device)
    return lifecycle.allowed(DeviceState(device["state"]), facts)


async def apply_transition(
    code: str,
    transition: str,
    actor: str,
    *,
    reason: str | None = None,
    note: str = "",
    expected_version: int | None = None,
    domain_facts: dict[str, Any] | None = None,
    loan_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply a named transition and write its event in the same transaction (invariants 3, 7).

    `loan_id` is the loan whose own operation this is; the generic path gives none, and the
    lifecycle then refuses the loan's transitions and any move of a device on an open loan.
    """
    async with write_transaction(Device):
        device = await get_device(code)
        if expected_version is not None and device["version"] != expected_version:
            raise Conflict(
                f"L'appareil {device['asset_tag']} a changé entre-temps "
                f"(version {device['version']}, attendue {expected_version}) : rechargez."
            )
        facts = await device_facts(
            device, reason=reason, acting_loan=loan_id, **(domain_facts or {})
        )
        state = DeviceState(device["state"])
        try:
            target = lifecycle.decide(state, transition, facts)
        except lifecycle.TransitionRefused as refusal:
            raise Conflict(f"{device['asset_tag']} : {refusal}") from None
        updated = (
            await Device.update(
                {Device.state: target, Device.version: Device.version + 1, Device.updated_at: now()}
            )
            .where((Device.id == device["id"]) & (Device.version == device["version"]))
            .returning(Device.id)
        )
        if not updated:
            raise Conflict(
                f"L'appareil {device['asset_tag']} vient d'être modifié par une autre opération."
            )
        payload: dict[str, Any] = {**(details or {}), "transition": transition}
        if reason:
            payload["reason"] = reason
        if note:
            payload["note"] = note
        if lifecycle.TRANSITIONS[transition].custody_change:
            payload["custody_change"] = True
        await write_event(device["id"], actor, transition, state, target, payload, loan_id=loan_id)
        return await Device.select().where(Device.id == device["id"]).first().output(load_json=True)


DEVICE_EDITED = "device_edited"
EDITABLE = ("brand", "model", "serial", "kind", "grade")
# States where a device is taken to hold no data: a kind that gains storage must be wiped first.
_PAST_WIPING = frozenset(
    {DeviceState.wiped, DeviceState.imaged, DeviceState.ready, DeviceState.loaned}
    | {DeviceState.in_repair}
)


@dataclass(frozen=True)
class DeviceEdit:
    """What a technician may correct on a device; `version` is the one the form was read at."""

    version: int
    brand: str = ""
    model: str = ""
    serial: str = ""
    kind: str = DeviceKind.laptop
    grade: str = Grade.unknown


def check_edit(data: DeviceEdit) -> DeviceEdit:
    """The edit as it will be stored, or Invalid naming the wrong field; writes nothing."""
    fields = {"brand": (data.brand, 80, "Marque"), "model": (data.model, 120, "Modèle")}
    fields["serial"] = (data.serial, 80, "Numéro de série")
    for value, limit, words in fields.values():
        if len(value.strip()) > limit:
            raise Invalid(f"{words} : {limit} caractères au plus.")
    if data.grade not in Grade.__members__.values():
        raise Invalid("Grade attendu : A, B, C ou « ? » (non évalué).")
    return DeviceEdit(
        version=data.version,
        brand=data.brand.strip(),
        model=data.model.strip(),
        serial=data.serial.strip(),
        kind=parse_kind(data.kind),
        grade=data.grade,
    )


async def edit_device(code: str, data: DeviceEdit, actor: str) -> dict[str, Any]:
    """Correct brand, model, serial, kind or grade; the `device_edited` event keeps before and
    after, in the same transaction. A form read at an older version is refused (409)."""
    edit = check_edit(data)
    async with write_transaction(Device):
        device = await get_device(code)
        if device["version"] != edit.version:
            raise Conflict(
                f"L'appareil {device['asset_tag']} a été modifié par quelqu'un d'autre depuis "
                "l'ouverture du formulaire : rechargez la fiche et refaites la correction."
            )
        after = {field: getattr(edit, field) for field in EDITABLE}
        changed = {f: v for f, v in after.items() if device[f] != v}
        if not changed:
            raise Invalid("Aucune modification : les valeurs sont celles déjà enregistrées.")
        gains_storage = DeviceKind(device["kind"]) in KINDS_WITHOUT_STORAGE and (
            DeviceKind(edit.kind) not in KINDS_WITHOUT_STORAGE
        )
        if gains_storage and DeviceState(device["state"]) in _PAST_WIPING:
            facts = await device_facts({**device, "kind": edit.kind})
            if not (facts.disks_sanitized and facts.image_verified):
                words = KIND_LABELS_FR[DeviceKind(edit.kind)]
                raise Conflict(
                    f"{device['asset_tag']} deviendrait « {words} »,"
                    " un appareil avec stockage, sans effacement : renvoyez-le d'abord à "
                    "l'effacement."
                )
        updated = (
            await Device.update(
                {
                    **{getattr(Device, f): v for f, v in changed.items()},
                    Device.version: Device.version + 1,
                    Device.updated_at: now(),
                }
            )
            .where((Device.id == device["id"]) & (Device.version == edit.version))
            .returning(Device.id)
        )
        if not updated:
            raise Conflict(f"L'appareil {device['asset_tag']} vient d'être modifié par ailleurs.")
        payload = {
            "before": {f: device[f] for f in changed},
            "after": changed,
        }
        await write_event(device["id"], actor, DEVICE_EDITED, None, None, payload)
        return await get_device(code)


async def write_event(
    device_id: int | None,
    actor: str,
    kind: str,
    from_state: str | None,
    to_state: str | None,
    payload: dict[str, Any],
    *,
    loan_id: int | None = None,
) -> None:
    """Append an event; callers run it inside the transaction of the change it records."""
    await Event.insert(
        Event(
            device=device_id,
            loan_id=loan_id,
            actor=actor,
            at=now(),
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            payload=payload,
        )
    )


async def record_disk_sanitized(
    disk_id: int, passed: bool, actor: str, details: dict[str, Any]
) -> None:
    """Record the outcome of a disk's sanitization on its device's history."""
    async with write_transaction(Disk):
        disk = await Disk.select().where(Disk.id == disk_id).first()
        if disk is None:
            raise NotFound(f"Disque {disk_id} inconnu.")
        payload = {**details, "disk_id": disk_id, "passed": passed}
        await write_event(disk["device"], actor, DISK_SANITIZED, None, None, payload)


async def record_image_verified(
    code: str, verified: bool, actor: str, details: dict[str, Any]
) -> None:
    """Record the outcome of an imaging on the device's history."""
    async with write_transaction(Device):
        device = await get_device(code)
        payload = {**details, "verified": verified}
        await write_event(device["id"], actor, IMAGE_VERIFIED, None, None, payload)


async def add_disk(
    device_id: int | None,
    *,
    model: str,
    serial: str,
    size_bytes: int,
    transport: str = "other",
    rotational: bool = False,
) -> int:
    rows = await Disk.insert(
        Disk(
            device=device_id,
            model=model,
            serial=serial,
            size_bytes=size_bytes,
            transport=transport,
            rotational=rotational,
        )
    ).returning(Disk.id)
    return rows[0]["id"]


@dataclass(frozen=True)
class DeviceFilter:
    state: str | None = None
    site: int | None = None
    donation: int | None = None
    kind: str | None = None
    grade: str | None = None
    text: str | None = None


async def list_devices(
    filters: DeviceFilter, page: int = 1, per_page: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """One page of devices matching the filters, newest first, and the total count."""
    if page < 1 or not 1 <= per_page <= 500:
        raise Invalid("La page commence à 1 et compte de 1 à 500 appareils.")
    where = []
    if filters.state:
        where.append(Device.state == filters.state)
    if filters.site is not None:
        where.append(Device.site == filters.site)
    if filters.donation is not None:
        where.append(Device.donation == filters.donation)
    if filters.kind:
        where.append(Device.kind == filters.kind)
    if filters.grade:
        where.append(Device.grade == filters.grade)
    if filters.text:
        text = filters.text.strip()
        where.append(
            contains(Device.asset_tag, text)
            | contains(Device.brand, text)
            | contains(Device.model, text)
            | contains(Device.serial, text)
        )
    query = Device.select().order_by(Device.id, ascending=False)
    count = Device.count()
    if where:
        query = query.where(*where)
        count = count.where(*where)
    rows = await query.limit(per_page).offset((page - 1) * per_page).output(load_json=True)
    return rows, await count
