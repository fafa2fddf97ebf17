"""Self-audit of the inventory (DESIGN section 2): states, proofs of wipe, tags, references.

Each check reads its tables in a few queries (devices by batches of ids, never one query per
device) and returns violations; the composer (`web.selfcheck`) runs them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from piccolo.columns import ForeignKey
from piccolo.table import Table

from inventory import lifecycle
from inventory.devices import EventOut
from inventory.history import PastEvent, storage_facts
from inventory.states import KINDS_WITHOUT_STORAGE, STATE_LABELS_FR, DeviceKind, DeviceState
from inventory.tables import Device, Disk, Event
from inventory.tags import TagError, parse_tag

BATCH = 5000
# Invariant 1 concerns what may leave with a borrower: devices ready or already out.
OUT_STATES = frozenset({DeviceState.ready, DeviceState.loaned})


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which check, the record it names, and a sentence for a person."""

    check: str
    subject: str
    sentence: str


def state_label(state: str | None) -> str:
    try:
        return STATE_LABELS_FR[DeviceState(state)]
    except ValueError:
        return str(state)


async def device_batches() -> AsyncIterator[tuple[list[dict[str, Any]], dict[int, list]]]:
    """Devices by id ranges, each batch with its events (in id order), one query per table."""
    last_id = 0
    while True:
        rows = await (
            Device.select(Device.id, Device.asset_tag, Device.kind, Device.state)
            .where(Device.id > last_id)
            .order_by(Device.id)
            .limit(BATCH)
        )
        if not rows:
            return
        low, high = rows[0]["id"], rows[-1]["id"]
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in await (
            Event.select(Event.device, Event.kind, Event.to_state, Event.payload)
            .where((Event.device >= low) & (Event.device <= high))
            .order_by(Event.id)
            .output(load_json=True)
        ):
            events[event["device"]].append(event)
        yield rows, events
        last_id = high


def replay_violations(device: dict[str, Any], events: list[dict[str, Any]]) -> list[Violation]:
    """The stored state must equal the replay of the device's events (invariant 3)."""
    tag = device["asset_tag"]
    replayed = lifecycle.replay(e["to_state"] for e in events)
    if replayed is None:
        sentence = (
            f"L'appareil {tag} est « {state_label(device['state'])} » mais n'a aucun "
            "événement de changement d'état : son historique manque."
        )
        return [Violation("replay", tag, sentence)]
    if replayed != device["state"]:
        sentence = (
            f"L'appareil {tag} est enregistré « {state_label(device['state'])} » alors que "
            f"son historique le met « {state_label(replayed)} »."
        )
        return [Violation("replay", tag, sentence)]
    return []


def storage_violations(
    device: dict[str, Any], events: list[dict[str, Any]], disk_ids: Iterable[int]
) -> list[Violation]:
    """Invariant 1 for a ready or loaned device with storage, by the lifecycle's own rule."""
    if device["state"] not in OUT_STATES:
        return []
    if DeviceKind(device["kind"]) in KINDS_WITHOUT_STORAGE:
        return []
    past = [PastEvent(e["kind"], e["to_state"], e["payload"] or {}) for e in events]
    sanitized, imaged = storage_facts(past, list(disk_ids))
    tag, state = device["asset_tag"], state_label(device["state"])
    if not sanitized:
        sentence = (
            f"L'appareil {tag} est « {state} » sans qu'un effacement réussi de chacun de ses "
            "disques soit postérieur à sa dernière prise en charge."
        )
        return [Violation("wiped", tag, sentence)]
    if not imaged:
        sentence = (
            f"L'appareil {tag} est « {state} » sans installation vérifiée postérieure à son "
            "effacement."
        )
        return [Violation("wiped", tag, sentence)]
    return []


def tag_violations(device: dict[str, Any]) -> list[Violation]:
    """Asset tags carry a valid check character and are stored in their one spelling."""
    tag = device["asset_tag"]
    try:
        canonical = str(parse_tag(tag))
    except TagError:
        canonical = None
    if canonical != tag:
        sentence = f"L'étiquette {tag} (appareil n° {device['id']}) n'est pas une étiquette valide."
        return [Violation("tag", tag, sentence)]
    return []


async def audit_devices() -> list[Violation]:
    """Replay, invariant 1 and tags over every device, batch by batch."""
    found: list[Violation] = []
    async for rows, events in device_batches():
        out = [r["id"] for r in rows if r["state"] in OUT_STATES]
        disks: dict[int, list[int]] = defaultdict(list)
        if out:
            for disk in await Disk.select(Disk.id, Disk.device).where(Disk.device.is_in(out)):
                disks[disk["device"]].append(disk["id"])
        for row in rows:
            history = events.get(row["id"], [])
            found += tag_violations(row)
            found += replay_violations(row, history)
            found += storage_violations(row, history, disks.get(row["id"], []))
    return found


async def dangling_references(tables: Iterable[type[Table]]) -> list[Violation]:
    """Rows whose foreign key names a row that no longer exists (nothing is deleted, inv. 9)."""
    found: list[Violation] = []
    for table in tables:
        child = table._meta.tablename
        for column in table._meta.foreign_key_columns:
            assert isinstance(column, ForeignKey)
            parent = column._foreign_key_meta.resolved_references._meta.tablename
            name = column._meta.db_column_name
            query = (
                f'SELECT c."id" AS id, c."{name}" AS ref FROM "{child}" c '
                f'LEFT JOIN "{parent}" p ON p."id" = c."{name}" '
                f'WHERE c."{name}" IS NOT NULL AND p."id" IS NULL ORDER BY c."id"'
            )
            for row in await table.raw(query):
                subject = f"{child} {row['id']}"
                sentence = (
                    f"La ligne n° {row['id']} de la table {child} renvoie à la ligne "
                    f"n° {row['ref']} de la table {parent}, qui n'existe plus."
                )
                found.append(Violation("orphan", subject, sentence))
    return found


async def trail(
    *, kind: str | None = None, device: int | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[EventOut], int]:
    """The audit trail newest first, optionally of one kind or one device, and its length."""
    where = []
    if kind:
        where.append(Event.kind == kind)
    if device is not None:
        where.append(Event.device == device)
    query = Event.select().order_by(Event.id, ascending=False).output(load_json=True)
    count = Event.count()
    if where:
        query, count = query.where(*where), count.where(*where)
    rows = await query.limit(limit).offset(offset)
    return [EventOut.from_row(r) for r in rows], await count
