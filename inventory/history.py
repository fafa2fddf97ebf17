"""Facts that a device's event history proves, computed without I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

REGISTERED = "registered"
DISK_SANITIZED = "disk_sanitized"
# Proof events, distinct from the transitions they allow (`wipe_passed`, `image_verified`).
IMAGE_VERIFIED = "imaging_result"


@dataclass(frozen=True)
class PastEvent:
    kind: str
    to_state: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    loan_id: int | None = None


def is_custody_change(event: PastEvent) -> bool:
    return event.kind == REGISTERED or bool(event.payload.get("custody_change"))


def storage_facts(events: Sequence[PastEvent], disk_ids: Iterable[int]) -> tuple[bool, bool]:
    """(every disk wiped since the last custody change, a verified image newer than that wipe)."""
    custody = max((i for i, e in enumerate(events) if is_custody_change(e)), default=-1)
    last_pass: dict[int, int] = {}
    for i in range(custody + 1, len(events)):
        event = events[i]
        if event.kind == DISK_SANITIZED and event.payload.get("passed"):
            last_pass[int(event.payload["disk_id"])] = i
    wanted = set(disk_ids)
    if not wanted or not wanted <= last_pass.keys():
        return False, False
    wiped_at = max(last_pass[d] for d in wanted)
    imaged = any(
        e.kind == IMAGE_VERIFIED and e.payload.get("verified") for e in events[wiped_at + 1 :]
    )
    return True, imaged
