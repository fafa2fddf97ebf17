"""Piccolo tables of imaging: images, pinned host keys, deployment jobs and their events."""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    BigInt,
    Float,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from inventory.tables import Device


class Image(Table):
    """A raw disk image stored as zstd of its mapped ranges, with its block map."""

    id: Serial

    name = Varchar(length=80, unique=True)
    version = Varchar(length=40, default="1")
    size_bytes = BigInt(default=0)
    mapped_bytes = BigInt(default=0)
    compressed_bytes = BigInt(default=0)
    range_count = Integer(default=0)
    map_sha256 = Varchar(length=64, default="")
    data_sha256 = Varchar(length=64, default="")
    created_at = Timestamptz()
    created_by = Varchar(length=120, default="")


class HostKey(Table):
    """A pinned SSH host key: `host` is an address, or `*` for the live system's shared key."""

    id: Serial

    host = Varchar(length=120, index=True)
    port = Integer(default=22)
    key_type = Varchar(length=40)
    key_base64 = Text()
    fingerprint = Varchar(length=80)
    label = Varchar(length=120, default="")
    enrolled_at = Timestamptz()
    enrolled_by = Varchar(length=120, default="")


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    passed = "passed"
    failed = "failed"


class DeploymentJob(Table):
    """One deployment of one image to one PC booted into the live system.

    A worker (`reemploi worker`) claims a queued job by writing its name in `worker`, then
    refreshes `heartbeat_at` every few seconds until the job ends; a running job whose heartbeat
    is stale has lost its worker and is taken back (provisioning.imaging.worker).
    """

    id: Serial

    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True)
    asset_tag = Varchar(length=20, default="")
    target = Varchar(length=160)
    disk = Varchar(length=120, default="")
    image = Varchar(length=80)
    profile = Varchar(length=40)
    status = Varchar(length=10, choices=JobStatus, default=JobStatus.queued, index=True)
    phase = Varchar(length=40, default="")
    reason = Text(default="")
    bytes_done = BigInt(default=0)
    bytes_total = BigInt(default=0)
    rate = Float(default=0.0)
    eta_seconds = Float(default=0.0)
    steps = JSON(default=[])
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    actor = Varchar(length=120, default="")
    worker = Varchar(length=120, default="", index=True)
    heartbeat_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    # Jobs of one chained deployment share this name (empty: unicast); their order is their id's.
    chain = Varchar(length=40, default="", index=True)


class DeploymentEvent(Table):
    """A deployment job's status change, written in the transaction that makes it."""

    id: Serial
    # restrict: a job's history is audited and never disappears with it (invariant 9).
    job = ForeignKey(references=DeploymentJob, on_delete=OnDelete.restrict, index=True)
    at = Timestamptz()
    status = Varchar(length=10, choices=JobStatus)
    worker = Varchar(length=120, default="")
    reason = Text(default="")
