"""Sanitization records over the API: what a bench station reports as it wipes.

A station opens a record when a disk appears, sends heartbeats while it works, and closes the
record with the outcome; the server signs passed records (the key never leaves it) only when the
result is consistent with the disk: otherwise 422, the record closed failed, no certificate.
The commands (`RecordStart`, `Heartbeat`, `Outcome`) and the answer (`RecordOut`) are defined in
`provisioning.records`, beside the service that executes them.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from provisioning import attach, records
from provisioning.attach import AttachRecord
from provisioning.records import Heartbeat, HeartbeatOut, Outcome, RecordOut, RecordStart
from provisioning.tables import Status
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import WORKSHOP
from web.settings import base_url


async def certified(row: dict[str, Any], actor: str) -> dict[str, Any]:
    """The record, its certificate PDF laid out first if it passed (once: then read back)."""
    if row["status"] == Status.passed:
        row, _ = await records.issue_pdf(row["id"], base_url(), actor)
    return row


class SanitizationController(Controller):
    path = "/api/v1/sanitization"
    tags = ["sanitization"]

    @post("/records", opt={"roles": WORKSHOP}, status_code=201, responses=errors(404, 409, 422))
    async def start_record(
        self, data: JSONBody[RecordStart], principal: NamedDependency[Principal]
    ) -> RecordOut:
        """Open a running record; 409 if this disk is already being wiped."""
        row = await records.open_record(data, principal.actor)
        return RecordOut.from_row(row, base_url())

    @post(
        "/records/{record_id:int}/heartbeat",
        opt={"roles": WORKSHOP},
        status_code=200,
        responses=errors(409, 422),
    )
    async def heartbeat(self, record_id: FromPath[int], data: JSONBody[Heartbeat]) -> HeartbeatOut:
        """The wipe is still running; 409 once the record is closed."""
        await records.heartbeat(record_id, data.progress_bytes)
        return HeartbeatOut(ok=True)

    @post(
        "/records/{record_id:int}/finish",
        opt={"roles": WORKSHOP},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def finish(
        self,
        record_id: FromPath[int],
        data: JSONBody[Outcome],
        principal: NamedDependency[Principal],
    ) -> RecordOut:
        """Close the record; a consistent pass is signed and its certificate PDF issued.

        A pass the server cannot stand behind answers 422 with the reason; the record is then
        closed failed with that reason, and no certificate exists.
        """
        row = await records.finish(record_id, data, principal.actor)
        return RecordOut.from_row(await certified(row, principal.actor), base_url())

    @post("/attachments", opt={"roles": WORKSHOP}, status_code=200, responses=errors(404, 409, 422))
    async def attach_record(
        self, data: JSONBody[AttachRecord], principal: NamedDependency[Principal]
    ) -> RecordOut:
        """Attach a record made without a device (hot-plug bench, station) to the device whose
        tag was scanned; its certificate then names the device (laid out again if issued).

        422 for a misread tag; 409 if the record is attached to another device, or its disk
        belongs to another one. Attaching again to the same device answers the same record.
        """
        row = await attach.attach(data, principal.actor)
        return RecordOut.from_row(await certified(row, principal.actor), base_url())

    @get("/records/{record_id:int}", opt={"roles": WORKSHOP}, responses=errors(404))
    async def get_record(self, record_id: FromPath[int]) -> RecordOut:
        """One record, with its certificate number when it passed."""
        await records.settle_abandoned()
        return RecordOut.from_row(await records.get(record_id), base_url())
