"""Device services: look-up, listing, transitions with their events, wipe and image proofs.

Commands (`TransitionIn`, `DeviceEdit`, `DeviceFilter`) and answers (`DeviceOut`, `EventOut`,
`TransitionInfo`) are defined here, beside the services that take and give them; the API and the
pages only carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.querystring import QueryString
from piccolo.table import Table
from piccolo.utils.encoding import dump_json

from inventory import lifecycle
from inventory.clock import now  # also `inventory.devices.now`, for older callers
from inventory.commands import checked
from inventory.db import contains, write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from inventory.history import DISK_SANITIZED, IMAGE_VERIFIED, REGISTERED, PastEvent, storage_facts
from inventory.kinds import parse_kind
from inventory.states import (
    KIND_LABELS_FR,
    KINDS_WITHOUT_STORAGE,
    STATE_LABELS_FR,
    DeviceKind,
    DeviceState,
    Grade,
    RetirementReason,
)
from inventory.tables import Device, Disk, Event
from inventory.tags import parse_tag

Note = Annotated[str, msgspec.Meta(max_length=2000)]


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Apply a named transition of the lifecycle to a device (generic path: card, scan, API).

    `expected_version` is the version the person saw; a device changed since is refused (409).
    """

    transition: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    reason: RetirementReason | None = None
    note: Note = ""
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "transition": "Transition",
        "reason": "Motif",
        "note": "Note",
        "expected_version": "Version",
    }


class DeviceOut(msgspec.Struct):
    """A device as the API shows it, with the transitions the generic path may apply now."""

    id: int
    asset_tag: str
    kind: str
    brand: str
    model: str
    serial: str
    cpu: str
    ram_mb: int
    storage_summary: str
    grade: str
    state: str
    state_label: str
    donation_id: int | None
    site_id: int | None
    version: int
    facts: dict[str, Any]
    allowed_transitions: list[str] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], allowed: list[str] | None = None) -> DeviceOut:
        facts = _json(row["facts"])
        return cls(
            id=row["id"],
            asset_tag=row["asset_tag"],
            kind=row["kind"],
            brand=row["brand"],
            model=row["model"],
            serial=row["serial"],
            cpu=row["cpu"],
            ram_mb=row["ram_mb"],
            storage_summary=row["storage_summary"],
            grade=row["grade"],
            state=row["state"],
            state_label=STATE_LABELS_FR[DeviceState(row["state"])],
            donation_id=row["donation"],
            site_id=row["site"],
            version=row["version"],
            facts=facts or {},
            allowed_transitions=allowed,
        )


class EventOut(msgspec.Struct):
    """One entry of the audit trail."""

    id: int
    device_id: int | None
    loan_id: int | None
    actor: str
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EventOut:
        return cls(
            id=row["id"],
            device_id=row["device"],
            loan_id=row["loan_id"],
            actor=row["actor"],
            at=row["at"],
            kind=row["kind"],
            from_state=row["from_state"],
            to_state=row["to_state"],
            payload=_json(row["payload"]) or {},
        )


class TransitionInfo(msgspec.Struct):
    """One named transition of the lifecycle; `domain_only` ones belong to the loans."""

    name: str
    label: str
    sources: list[str]
    target: str
    custody_change: bool
    domain_only: bool


def _json(value: Any) -> Any:
    """A JSON column's value as Python (raw queries and RETURNING give its text)."""
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value or b"{}")
    return value


def _plain(value: Any) -> Any:
    """A value as the driver takes it: an enumeration's member as its value (as Piccolo does)."""
    return value.value if isinstance(value, Enum) else value


class Prebuilt:
    """A statement written once with Piccolo's `{}` placeholders (`?` on SQLite, `$n` on
    PostgreSQL) and compiled once per engine type: running it costs neither Piccolo's query
    builder nor its compiler, only the driver. The arguments are passed to the driver as they
    are (give enumerations by value, JSON as text)."""

    def __init__(self, table: type[Table], template: str) -> None:
        self.table = table
        self.template = template
        self._compiled: dict[str, str] = {}

    def _sql(self, engine_type: str) -> str:
        sql = self._compiled.get(engine_type)
        if sql is None:
            blanks = [None] * self.template.count("{}")
            sql = QueryString(self.template, *blanks).compile_string(engine_type)[0]
            self._compiled[engine_type] = sql
        return sql

    async def run(self, *args: Any) -> list[dict[str, Any]]:
        """Its rows as dictionaries, in the current transaction if any (as `Table.raw`)."""
        engine = self.table._meta.db
        query = QueryString(self.template)
        query._frozen_compiled_strings = (self._sql(engine.engine_type), list(args))
        rows = await engine.run_querystring(query, in_pool=True)
        return engine.transform_response_to_dicts(rows) if rows else []


# The statements of a transition, built once (Piccolo's query builder costs more CPU than the
# statement itself): `{}` is each engine's placeholder (`?` on SQLite, `$n` on PostgreSQL).
# The device with every column under its Piccolo name, as `Device.select().first()` gives it.
_DEVICE_TABLE = Device._meta.tablename
_DEVICE_SQL = Prebuilt(
    Device,
    "SELECT "
    + ", ".join(
        f'"{_DEVICE_TABLE}"."{column._meta.db_column_name}" AS "{column._meta.name}"'
        for column in Device._meta.columns
    )
    + f' FROM "{_DEVICE_TABLE}" WHERE "{_DEVICE_TABLE}"."asset_tag" = {{}} LIMIT 1',
)
# The optimistic check: only the version read changes the row (a single-row update by id).
_TRANSITION_SQL = Prebuilt(
    Device,
    f'UPDATE "{_DEVICE_TABLE}" SET "state" = {{}}, "version" = "version" + 1, '
    f'"updated_at" = {{}} WHERE ("{_DEVICE_TABLE}"."id" = {{}} '
    f'AND "{_DEVICE_TABLE}"."version" = {{}}) RETURNING "version"',
)
_EVENT_SQL = Prebuilt(
    Event,
    f'INSERT INTO "{Event._meta.tablename}" ("device", "loan_id", "actor", "at", "kind", '
    '"from_state", "to_state", "payload") VALUES ({}, {}, {}, {}, {}, {}, {}, {})',
)


def transition_catalogue() -> list[TransitionInfo]:
    """The lifecycle's named transitions, as the API lists them."""
    return [
        TransitionInfo(
            name=t.name,
            label=t.label_fr,
            sources=sorted(t.sources),
            target=t.target,
            custody_change=t.custody_change,
            domain_only=t.loan_effect is not None,
        )
        for t in lifecycle.TRANSITIONS.values()
    ]


async def get_device(code: str) -> dict[str, Any]:
    """The device a scanned code names; TagError for a misread, NotFound for an unknown tag."""
    tag = str(parse_tag(code))
    rows = await _DEVICE_SQL.run(tag)
    if not rows:
        raise NotFound(f"Aucun appareil ne porte l'étiquette {tag}.")
    row = rows[0]
    row["facts"] = _json(row["facts"])
    return row


async def device_disks(device_id: int) -> list[dict[str, Any]]:
    return await Disk.select().where(Disk.device == device_id).order_by(Disk.id)


async def device_events(device_id: int) -> list[dict[str, Any]]:
    """The device's whole history, oldest first (for people; the rules read `device_facts`)."""
    return await (
        Event.select().where(Event.device == device_id).order_by(Event.id).output(load_json=True)
    )


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(f"'{word}'" for word in words)  # constants of this module, never input


# The events that decide the facts: the last custody change (it voids earlier wipes), the last
# move in or out of a loan, and the proofs written since that custody change.
_CUSTODY = (REGISTERED, *(t.name for t in lifecycle.TRANSITIONS.values() if t.custody_change))
_LOAN_MOVES = tuple(
    t.name
    for t in lifecycle.TRANSITIONS.values()
    if t.loan_effect in (lifecycle.LoanEffect.opens, lifecycle.LoanEffect.closes)
)
_EVENT, _DISK = Event._meta.tablename, Disk._meta.tablename
_FACTS_SQL = Prebuilt(
    Event,
    f"""
SELECT 'event' AS source, id, kind, loan_id, payload FROM {_EVENT}
 WHERE device = {{}} AND (
   id = (SELECT MAX(id) FROM {_EVENT} WHERE device = {{}} AND kind IN ({_quoted(_CUSTODY)}))
   OR id = (SELECT MAX(id) FROM {_EVENT} WHERE device = {{}} AND kind IN ({_quoted(_LOAN_MOVES)}))
   OR (kind IN ({_quoted((DISK_SANITIZED, IMAGE_VERIFIED))}) AND id > COALESCE(
       (SELECT MAX(id) FROM {_EVENT} WHERE device = {{}} AND kind IN ({_quoted(_CUSTODY)})), 0)))
UNION ALL
SELECT 'disk', id, NULL, NULL, NULL FROM {_DISK} WHERE device = {{}}
""",
)


async def device_facts(device: dict[str, Any], **domain_facts: Any) -> lifecycle.Facts:
    """Gather what the guards need from the history; other domains add what only they know.

    One bounded query: the last custody change, the last loan move, the wipe and imaging
    proofs since that custody change, and the device's disks, never the whole history.
    The open loan comes from the events, never from the caller: a path that forgets the loan
    cannot move a device out of it (invariant 8).
    """
    device_id = device["id"]
    rows = await _FACTS_SQL.run(*([device_id] * 5))
    events: list[tuple[int, PastEvent]] = []
    disk_ids: list[int] = []
    for row in rows:
        if row["source"] == "disk":
            disk_ids.append(row["id"])
            continue
        payload = _json(row["payload"]) or {}
        past = PastEvent(kind=row["kind"], payload=payload, loan_id=row["loan_id"])
        events.append((row["id"], past))
    history = [past for _, past in sorted(events, key=lambda pair: pair[0])]
    sanitized, imaged = storage_facts(history, disk_ids)
    return lifecycle.Facts(
        has_storage=DeviceKind(device["kind"]) not in KINDS_WITHOUT_STORAGE,
        disks_sanitized=sanitized,
        image_verified=imaged,
        open_loan=lifecycle.open_loan((e.kind, e.loan_id) for e in history),
        **domain_facts,
    )


def facts_after(facts: lifecycle.Facts, transition: str, loan_id: int | None) -> lifecycle.Facts:
    """The facts once `transition` is recorded: what its own event changes, without reading
    the history again (a custody change voids the proofs; a loan move sets the open loan)."""
    rule = lifecycle.TRANSITIONS[transition]
    open_loan = facts.open_loan
    if rule.loan_effect == lifecycle.LoanEffect.opens:
        open_loan = loan_id
    elif rule.loan_effect == lifecycle.LoanEffect.closes:
        open_loan = None
    voided = rule.custody_change
    return replace(
        facts,
        open_loan=open_loan,
        disks_sanitized=facts.disks_sanitized and not voided,
        image_verified=facts.image_verified and not voided,
        acting_loan=None,
        charter_signed=False,
        reason=None,
    )


async def generic_transitions(device: dict[str, Any]) -> list[str]:
    """Transitions the generic path (scan page, device card, API) may apply to `device` now."""
    facts = await device_facts(device)
    return lifecycle.allowed(DeviceState(device["state"]), facts)


async def describe_device(code: str) -> DeviceOut:
    """The device a code names, with the transitions the generic path may apply now."""
    device = await get_device(code)
    return DeviceOut.from_row(device, await generic_transitions(device))


async def device_history(code: str) -> list[EventOut]:
    """The device's full history, oldest first."""
    device = await get_device(code)
    return [EventOut.from_row(e) for e in await device_events(device["id"])]


async def _transition(
    code: str,
    transition: str,
    actor: str,
    *,
    reason: str | None,
    note: str,
    expected_version: int | None,
    domain_facts: dict[str, Any] | None,
    loan_id: int | None,
    details: dict[str, Any] | None,
) -> tuple[dict[str, Any], lifecycle.Facts]:
    """The transition and its event in one transaction: two reads (the device with its version,
    then the facts), one conditional update, one insert. Returns the row and the facts after."""
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
        stamp = now()
        updated = await _TRANSITION_SQL.run(target.value, stamp, device["id"], device["version"])
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
        row = {**device, "state": target.value, "version": updated[0]["version"]}
        row["updated_at"] = stamp
        return row, facts_after(facts, transition, loan_id)


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
    Other domains call this with what only they know (`domain_facts`, `details`).
    """
    row, _ = await _transition(
        code,
        transition,
        actor,
        reason=reason,
        note=note,
        expected_version=expected_version,
        domain_facts=domain_facts,
        loan_id=loan_id,
        details=details,
    )
    return row


async def transition_device(code: str, command: TransitionIn, actor: str) -> DeviceOut:
    """The generic path's transition (device card, API): the device after it, with what may
    follow, computed from the facts already read (no second pass over the history)."""
    command = checked(command)
    row, facts = await _transition(
        code,
        command.transition,
        actor,
        reason=command.reason,
        note=command.note,
        expected_version=command.expected_version,
        domain_facts=None,
        loan_id=None,
        details=None,
    )
    return DeviceOut.from_row(row, lifecycle.allowed(DeviceState(row["state"]), facts))


DEVICE_EDITED = "device_edited"
EDITABLE = ("brand", "model", "serial", "kind", "grade")
# States where a device is taken to hold no data: a kind that gains storage must be wiped first.
_PAST_WIPING = frozenset(
    {DeviceState.wiped, DeviceState.imaged, DeviceState.ready, DeviceState.loaned}
    | {DeviceState.in_repair}
)


class DeviceEdit(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What a technician may correct on a device; `version` is the one the form was read at.

    `kind` takes the words people use (« PC portable », « Tour »…), read by `parse_kind`.
    """

    version: Annotated[int, msgspec.Meta(ge=1)]
    brand: Annotated[str, msgspec.Meta(max_length=80)] = ""
    model: Annotated[str, msgspec.Meta(max_length=120)] = ""
    serial: Annotated[str, msgspec.Meta(max_length=80)] = ""
    kind: Annotated[str, msgspec.Meta(max_length=60)] = DeviceKind.laptop.value
    grade: Grade = Grade.unknown

    field_labels: ClassVar[dict[str, str]] = {
        "version": "Version",
        "brand": "Marque",
        "model": "Modèle",
        "serial": "Numéro de série",
        "kind": "Type",
        "grade": "Grade (A, B, C ou « ? »)",
    }


def check_edit(data: DeviceEdit) -> DeviceEdit:
    """The edit as it will be stored, or Invalid naming the wrong field; writes nothing."""
    trimmed = msgspec.structs.replace(
        data, brand=data.brand.strip(), model=data.model.strip(), serial=data.serial.strip()
    )
    edit = checked(trimmed)
    return msgspec.structs.replace(edit, kind=parse_kind(edit.kind))


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
        after = {field: str(getattr(edit, field)) for field in EDITABLE}
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
    await _EVENT_SQL.run(
        device_id,
        loan_id,
        actor,
        now(),
        _plain(kind),
        _plain(from_state),
        _plain(to_state),
        dump_json(payload),  # as Piccolo writes a JSON column (orjson or json, `default=str`)
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


class DeviceFilter(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which devices a list shows; a field left empty filters nothing."""

    state: DeviceState | None = None
    site: int | None = None
    donation: int | None = None
    kind: DeviceKind | None = None
    grade: Grade | None = None
    text: Annotated[str, msgspec.Meta(max_length=100)] | None = None


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


async def device_page(
    filters: DeviceFilter, limit: int, offset: int
) -> tuple[list[DeviceOut], int]:
    """Devices matching the filters from `offset` on (the API's pages), and the total count."""
    rows, total = await list_devices(filters, offset // limit + 1, limit)
    return [DeviceOut.from_row(r) for r in rows], total
