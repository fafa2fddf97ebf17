"""Sanitization records over the API: what a bench station reports as it wipes.

A station opens a record when a disk appears, sends heartbeats while it works, and closes the
record with the outcome; the server signs passed records (the key never leaves it) only when the
result is consistent with the disk: otherwise 422, the record closed failed, no certificate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post

from provisioning import records
from provisioning.consistency import PurgeEvidence
from provisioning.tables import MethodType, Status
from web.accounts import Principal
from web.roles import WORKSHOP
from web.settings import base_url

Short = Annotated[str, msgspec.Meta(max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class RecordStart(msgspec.Struct, forbid_unknown_fields=True):
    """A disk that a station is about to wipe, as the station identified it."""

    model: Short
    serial: Short
    size_bytes: Count
    method_type: MethodType
    verification_method: Annotated[str, msgspec.Meta(max_length=40)]
    station: Short
    host: Short
    pid: Count
    pid_start: Count
    manufacturer: Short = ""
    media_type: Annotated[str, msgspec.Meta(max_length=40)] = ""
    transport: Annotated[str, msgspec.Meta(max_length=10)] = "other"
    rotational: bool = False
    hidden_areas: Annotated[str, msgspec.Meta(max_length=200)] = ""
    tag: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    progress_bytes: Count = 0


class MarkerCheckIn(msgspec.Struct, forbid_unknown_fields=True):
    """Markers written before a purge, read after it: how many, how many survived."""

    markers: Count
    survivors: Count
    passed: bool
    zeros: Count = 0
    ones: Count = 0
    other: Count = 0
    digest: Annotated[str, msgspec.Meta(max_length=64)] = ""


class PurgeEvidenceIn(msgspec.Struct, forbid_unknown_fields=True):
    """What proves a firmware purge: commands run, the drive's completion status, markers."""

    commands: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=8)
    ]
    completion: Annotated[str, msgspec.Meta(max_length=40)]
    completion_source: Short
    markers: MarkerCheckIn
    completion_detail: Text = ""
    warnings: Annotated[list[Text], msgspec.Meta(max_length=8)] = []


class RecordFinish(msgspec.Struct, forbid_unknown_fields=True):
    """How the wipe ended, as the engine measured it; a passed Purge carries `evidence`."""

    status: Status
    reason: Text = ""
    method_type: MethodType = MethodType.clear
    method: Annotated[str, msgspec.Meta(max_length=60)] = ""
    method_details: Text = ""
    tool: Short = ""
    verification_method: Annotated[str, msgspec.Meta(max_length=40)] = ""
    verification_result: Annotated[str, msgspec.Meta(max_length=12)] = ""
    verified_bytes: Count = 0
    bytes_written: Count = 0
    hidden_areas: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    notes: dict[str, Any] = {}
    evidence: PurgeEvidenceIn | None = None

    def outcome(self) -> records.Outcome:
        fields = msgspec.structs.asdict(self)
        evidence = fields.pop("evidence")
        if evidence is not None:
            evidence = PurgeEvidence.from_dict(msgspec.to_builtins(evidence))
        return records.Outcome(**fields, evidence=evidence)


class RecordOut(msgspec.Struct):
    id: int
    disk_id: int
    device_id: int | None
    asset_tag: str
    status: str
    reason: str
    method_type: str
    method: str
    media_model: str
    media_serial: str
    size_bytes: int
    bytes_written: int
    verification_method: str
    verification_result: str
    verified_bytes: int
    started_at: datetime
    finished_at: datetime | None
    certificate_id: str | None
    verify_url: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RecordOut:
        certificate = row["certificate_id"]
        return cls(
            id=row["id"],
            disk_id=row["disk"],
            device_id=row["device"],
            asset_tag=row["asset_tag"],
            status=row["status"],
            reason=row["reason"],
            method_type=row["method_type"],
            method=row["method"],
            media_model=row["media_model"],
            media_serial=row["media_serial"],
            size_bytes=row["size_bytes"],
            bytes_written=row["bytes_written"],
            verification_method=row["verification_method"],
            verification_result=row["verification_result"],
            verified_bytes=row["verified_bytes"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            certificate_id=certificate,
            verify_url=f"{base_url()}/verify/{certificate}" if certificate else None,
        )


class SanitizationController(Controller):
    path = "/api/v1/sanitization"
    tags = ["sanitization"]

    @post("/records", opt={"roles": WORKSHOP}, status_code=201)
    async def start_record(self, data: RecordStart, principal: Principal) -> RecordOut:
        """Open a running record; 409 if this disk is already being wiped."""
        media = records.Media(
            model=data.model,
            serial=data.serial,
            size_bytes=data.size_bytes,
            manufacturer=data.manufacturer,
            media_type=data.media_type,
            transport=data.transport,
            rotational=data.rotational,
            hidden_areas=data.hidden_areas,
        )
        runner = records.Runner(
            operator=principal.actor,
            station=data.station,
            host=data.host,
            pid=data.pid,
            pid_start=data.pid_start,
        )
        row = await records.start(
            media,
            runner,
            method_type=data.method_type,
            verification_method=data.verification_method,
            tag=data.tag,
        )
        return RecordOut.from_row(row)

    @post("/records/{record_id:int}/heartbeat", opt={"roles": WORKSHOP}, status_code=200)
    async def heartbeat(self, record_id: int, data: Heartbeat) -> dict[str, bool]:
        """The wipe is still running; 409 once the record is closed."""
        await records.heartbeat(record_id, data.progress_bytes)
        return {"ok": True}

    @post("/records/{record_id:int}/finish", opt={"roles": WORKSHOP}, status_code=200)
    async def finish(
        self, request: Request, record_id: int, data: RecordFinish, principal: Principal
    ) -> RecordOut:
        """Close the record; a consistent pass is signed and its certificate PDF issued.

        A pass the server cannot stand behind answers 422 with the reason; the record is then
        closed failed with that reason, and no certificate exists.
        """
        row = await records.finish(record_id, data.outcome(), principal.actor)
        if row["status"] == Status.passed:
            row, _ = await records.issue_pdf(record_id, base_url(), principal.actor)
        return RecordOut.from_row(row)

    @get("/records/{record_id:int}", opt={"roles": WORKSHOP})
    async def get_record(self, record_id: int) -> RecordOut:
        """One record, with its certificate number when it passed."""
        await records.settle_abandoned()
        return RecordOut.from_row(await records.get(record_id))
