"""Sanitization records: start, heartbeat, finish, settle the abandoned, issue certificates.

Each change runs in one transaction with its events (invariant 3). A record starts `running`
and is closed `passed`, `failed` or `interrupted`; only a passed one gets a certificate and can
move its device from `to_wipe` to `wiped` (invariants 1 and 4). A claimed pass that the server
cannot stand behind (`consistency.refusal`) is closed `failed` with the reason, gets no
certificate, and the caller is told with `ResultRefused` (HTTP 422, invariant 10). A running
record whose process died (kill -9, power cut) is settled as interrupted by the next look at it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.clock import now  # the one clock; `records.now` stays importable for others
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from inventory.states import DeviceState
from inventory.tables import Device, Disk, Donation, Donor, Site
from provisioning import certificates
from provisioning.consistency import PurgeEvidence, refusal
from provisioning.tables import MethodType, SanitizationRecord, Status

STALE_AFTER = timedelta(minutes=5)  # without heartbeat from another host
WIPEABLE_STATES = {DeviceState.received, DeviceState.to_wipe, DeviceState.wiped}
STARTED = "sanitization_started"
CERTIFICATE_ISSUED = "certificate_issued"

Short = Annotated[str, msgspec.Meta(max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Verification = Annotated[str, msgspec.Meta(max_length=40)]

FIELD_LABELS = {
    "model": "Modèle",
    "serial": "Numéro de série",
    "size_bytes": "Capacité",
    "manufacturer": "Fabricant",
    "media_type": "Type de support",
    "transport": "Interface",
    "rotational": "Disque rotatif",
    "hidden_areas": "Zones cachées",
    "method_type": "Type de méthode",
    "verification_method": "Vérification",
    "station": "Poste d'effacement",
    "host": "Machine",
    "pid": "Processus",
    "pid_start": "Début du processus",
    "tag": "Étiquette",
    "progress_bytes": "Progression",
    "status": "Résultat",
    "reason": "Raison",
    "method": "Méthode",
    "method_details": "Détails de la méthode",
    "tool": "Outil",
    "verification_result": "Résultat de la vérification",
    "verified_bytes": "Octets relus",
    "bytes_written": "Octets écrits",
    "evidence": "Preuve de purge",
}


def process_start(pid: int) -> int:
    """The start time of a process in clock ticks (field 22 of /proc/PID/stat), or 0."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


class Media(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A disk's identity as reported by discovery (here or on a station)."""

    field_labels: ClassVar[dict[str, str]] = FIELD_LABELS

    model: Short
    serial: Short
    size_bytes: Count
    manufacturer: Short = ""
    media_type: Annotated[str, msgspec.Meta(max_length=40)] = ""
    transport: Annotated[str, msgspec.Meta(max_length=10)] = "other"
    rotational: bool = False
    hidden_areas: Annotated[str, msgspec.Meta(max_length=200)] = ""


@dataclass
class Runner:
    """Who runs the wipe: the operator, the station, and the process to watch."""

    operator: str
    station: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    pid_start: int = 0

    def __post_init__(self) -> None:
        if not self.pid_start:
            self.pid_start = process_start(self.pid)


class RecordStart(Media, forbid_unknown_fields=True, kw_only=True):
    """The command that opens a record: the disk as the station identified it, the method
    about to run, the process that runs it, and the device's tag if known.

    The API decodes it (`POST /api/v1/sanitization/records`), a station and `reemploi wipe`
    build it from the disk they found (`opening`)."""

    method_type: MethodType
    verification_method: Verification
    station: Short
    host: Short
    pid: Count
    pid_start: Count
    tag: Annotated[str, msgspec.Meta(max_length=300)] | None = None

    @classmethod
    def opening(
        cls,
        media: Media,
        runner: Runner,
        *,
        method_type: MethodType,
        verification_method: str,
        tag: str | None = None,
    ) -> RecordStart:
        return cls(
            **{name: getattr(media, name) for name in Media.__struct_fields__},
            method_type=method_type,
            verification_method=verification_method,
            station=runner.station,
            host=runner.host,
            pid=runner.pid,
            pid_start=runner.pid_start,
            tag=tag,
        )

    def media(self) -> Media:
        return Media(**{name: getattr(self, name) for name in Media.__struct_fields__})

    def runner(self, operator: str) -> Runner:
        return Runner(
            operator=operator,
            station=self.station,
            host=self.host,
            pid=self.pid,
            pid_start=self.pid_start,
        )


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    """The command of a wipe still running: how far it got."""

    field_labels: ClassVar[dict[str, str]] = FIELD_LABELS

    progress_bytes: Count = 0


class HeartbeatOut(msgspec.Struct):
    ok: bool = True


class Outcome(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The command that closes a record: how the wipe ended, as the engine measured it.

    `status` is passed only when the method ran and its verification held; a passed Purge
    carries its `evidence`. The API decodes it (`…/finish`), the engines build it.
    """

    field_labels: ClassVar[dict[str, str]] = FIELD_LABELS

    status: Status
    reason: Text = ""
    method_type: MethodType = MethodType.clear
    method: Annotated[str, msgspec.Meta(max_length=60)] = ""
    method_details: Text = ""
    tool: Short = ""
    verification_method: Verification = ""
    verification_result: Annotated[str, msgspec.Meta(max_length=12)] = ""
    verified_bytes: Count = 0
    bytes_written: Count = 0
    hidden_areas: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    notes: dict[str, Any] = {}
    evidence: PurgeEvidence | None = None  # required for a passed Purge


class RecordOut(msgspec.Struct):
    """A sanitization record as the API shows it, with its certificate number and page."""

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
    def from_row(cls, row: dict[str, Any], base_url: str) -> RecordOut:
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
            verify_url=verify_url(base_url, certificate) if certificate else None,
        )


def verify_url(base_url: str, certificate_id: str) -> str:
    """The public verification page of a certificate (printed as a QR code on its PDF)."""
    return f"{base_url.rstrip('/')}/verify/{certificate_id}"


class ResultRefused(Invalid):
    """A claimed pass was not consistent: the record is closed failed, without certificate."""

    def __init__(self, reason: str, record: dict[str, Any]) -> None:
        super().__init__(reason)
        self.record = record


class CertificateAltered(Conflict):
    """A certificate PDF already issued is missing or no longer matches its SHA-256."""


def _same_disk(row: dict[str, Any], media: Media, *, by_size: bool = False) -> bool:
    """Whether a known disk row can be this medium: model and serial equal wherever both sides
    report them (the SSH path may see less than the bench did), and with `by_size` (no serial
    to go by) the same size. A serial found with a smaller size is the same disk, reported
    short: the consistency check then counts the larger size."""
    if by_size and row["size_bytes"] != media.size_bytes:
        return False
    return all(
        not row[name] or not getattr(media, name) or row[name] == getattr(media, name)
        for name in ("model", "serial")
    )


async def _disk_for(media: Media, device: dict[str, Any] | None) -> int:
    """The disk row for this medium, never a second row for one physical disk: found by serial
    (and model), else within the device by model and size; attached to `device` if given."""
    existing = None
    if media.serial:
        same_serial = await Disk.select().where(Disk.serial == media.serial)
        existing = next((d for d in same_serial if _same_disk(d, media)), None)
    if existing is None and device is not None:
        in_device = await Disk.select().where(Disk.device == device["id"])
        candidates = [d for d in in_device if _same_disk(d, media, by_size=True)]
        if len(candidates) == 1:  # two alike (same model and size, no serial): ambiguous
            existing = candidates[0]
    if existing is None:
        return await devices.add_disk(
            device["id"] if device else None,
            model=media.model,
            serial=media.serial,
            size_bytes=media.size_bytes,
            transport=media.transport if media.transport in _TRANSPORTS else "other",
            rotational=media.rotational,
        )
    if device is not None and existing["device"] not in (None, device["id"]):
        owner = await Device.select(Device.asset_tag).where(Device.id == existing["device"]).first()
        raise Conflict(
            f"Ce disque ({media.serial}) est enregistré dans l'appareil "
            f"{owner['asset_tag'] if owner else '?'}, pas dans {device['asset_tag']}."
        )
    changes: dict[Any, Any] = {}
    if device is not None and existing["device"] is None:
        changes[Disk.device] = device["id"]
    for column, value in ((Disk.model, media.model), (Disk.serial, media.serial)):
        if value and not existing[column._meta.name]:  # learnt what was blank, never rewritten
            changes[column] = value
    if not existing["size_bytes"] and media.size_bytes:
        changes[Disk.size_bytes] = media.size_bytes
    if changes:
        await Disk.update(changes).where(Disk.id == existing["id"])
    return existing["id"]


_TRANSPORTS = {"sata", "nvme", "usb", "mmc", "other"}


async def device_context(device_id: int | None) -> dict[str, Any]:
    """Asset tag, donation, donor and site names of a device, copied onto the record."""
    if device_id is None:
        return {
            "device": None,
            "donation": None,
            "donor": None,
            "asset_tag": "",
            "source": "",
            "site": "",
        }
    device = await Device.select().where(Device.id == device_id).first()
    if device is None:
        raise NotFound(f"Appareil {device_id} inconnu.")
    donation = None
    if device["donation"] is not None:
        donation = await Donation.select().where(Donation.id == device["donation"]).first()
    donor = None
    if donation is not None:
        donor = await Donor.select().where(Donor.id == donation["donor"]).first()
    site_id = device["site"] or (donation["site"] if donation else None)
    site = await Site.select().where(Site.id == site_id).first() if site_id else None
    return {
        "device": device_id,
        "donation": donation["id"] if donation else None,
        "donor": donor["id"] if donor else None,
        "asset_tag": device["asset_tag"],
        "source": donor["name"] if donor else "",
        "site": site["name"] if site else "",
    }


async def start(
    media: Media,
    runner: Runner,
    *,
    method_type: MethodType,
    verification_method: str,
    tag: str | None = None,
) -> dict[str, Any]:
    """Open a running record for a disk found by code here (`reemploi wipe`, remote wipes):
    the command is built from what was found and checked like one the API decodes."""
    command = RecordStart.opening(
        media, runner, method_type=method_type, verification_method=verification_method, tag=tag
    )
    return await open_record(checked(command), runner.operator)


async def open_record(command: RecordStart, operator: str) -> dict[str, Any]:
    """Open a running record for a disk (linking it to the tagged device), with its event."""
    media, runner = command.media(), command.runner(operator)
    method_type, verification_method, tag = (
        command.method_type,
        command.verification_method,
        command.tag,
    )
    await settle_abandoned()
    async with write_transaction(SanitizationRecord):
        device = await devices.get_device(tag) if tag else None
        if device is not None and DeviceState(device["state"]) not in WIPEABLE_STATES:
            raise Conflict(
                f"L'appareil {device['asset_tag']} est dans l'état « {device['state']} » : "
                "renvoyez-le d'abord à l'effacement."
            )
        disk_id = await _disk_for(media, device)
        disk = await Disk.select().where(Disk.id == disk_id).first()
        busy = (
            await SanitizationRecord.select()
            .where(
                (SanitizationRecord.disk == disk_id) & (SanitizationRecord.status == Status.running)
            )
            .first()
        )
        if busy is not None:
            raise Conflict(
                f"Un effacement de ce disque est déjà en cours sur {busy['station']} "
                f"(relevé {busy['id']})."
            )
        if disk is None:  # read back in the same transaction that found or created it
            raise NotFound(f"Disque {disk_id} inconnu.")
        context = await device_context(disk["device"])
        started = now()
        rows = await SanitizationRecord.insert(
            SanitizationRecord(
                disk=disk_id,
                status=Status.running,
                media_manufacturer=media.manufacturer[:120],
                # What the bench learnt of this disk stands when the SSH path sees less.
                media_model=(media.model or disk["model"])[:120],
                media_serial=(media.serial or disk["serial"])[:120],
                media_type=media.media_type[:40],
                transport=media.transport[:10],
                size_bytes=media.size_bytes,
                hidden_areas=media.hidden_areas[:200],
                method_type=method_type,
                verification_method=verification_method,
                started_at=started,
                heartbeat_at=started,
                operator=runner.operator[:120],
                station=runner.station[:120],
                host=runner.host[:120],
                pid=runner.pid,
                pid_start=runner.pid_start,
                **context,
            )
        ).returning(SanitizationRecord.id)
        record_id = rows[0]["id"]
        payload = {"record_id": record_id, "disk_id": disk_id, "method_type": method_type}
        await devices.write_event(disk["device"], runner.operator, STARTED, None, None, payload)
        return await get(record_id)


async def get(record_id: int) -> dict[str, Any]:
    row = (
        await SanitizationRecord.select()
        .where(SanitizationRecord.id == record_id)
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound(f"Relevé d'effacement {record_id} inconnu.")
    return row


async def by_certificate(certificate_id: str) -> dict[str, Any]:
    row = (
        await SanitizationRecord.select()
        .where(SanitizationRecord.certificate_id == certificate_id.strip().upper())
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound(f"Aucun certificat ne porte le numéro {certificate_id}.")
    return row


async def heartbeat(record_id: int, progress_bytes: int) -> None:
    """A running wipe is alive; a closed record is not reopened (409)."""
    updated = (
        await SanitizationRecord.update(
            {
                SanitizationRecord.heartbeat_at: now(),
                SanitizationRecord.progress_bytes: max(0, progress_bytes),
            }
        )
        .where((SanitizationRecord.id == record_id) & (SanitizationRecord.status == Status.running))
        .returning(SanitizationRecord.id)
    )
    if not updated:
        raise Conflict(f"Le relevé {record_id} n'est plus en cours.")


async def _refusal(record: dict[str, Any], outcome: Outcome) -> str | None:
    """Why this claimed pass cannot be signed (the disk row's size counts as well)."""
    disk = await Disk.select(Disk.size_bytes).where(Disk.id == record["disk"]).first()
    size = max(record["size_bytes"] or 0, (disk or {}).get("size_bytes") or 0)
    return refusal(
        size_bytes=size,
        method_type=str(outcome.method_type),
        method=outcome.method,
        verification_method=outcome.verification_method,
        verification_result=outcome.verification_result,
        verified_bytes=outcome.verified_bytes,
        bytes_written=outcome.bytes_written,
        evidence=outcome.evidence,
    )


def _repeated(record: dict[str, Any], outcome: Outcome) -> str:
    """Whether `outcome` repeats the finish that closed `record`: "same" (answer it again),
    "refused" (it was a refused pass: refuse it again), or "" (another result: a conflict)."""
    measured = (
        str(outcome.method_type),
        outcome.method[:60],
        outcome.verified_bytes,
        outcome.bytes_written,
    )
    stored = (
        record["method_type"],
        record["method"],
        record["verified_bytes"],
        record["bytes_written"],
    )
    refused = (record["notes"] or {}).get("refused_claim")
    if refused is not None:
        claimed = (str(outcome.status), outcome.verification_result)
        same_claim = claimed == (refused["status"], refused["verification_result"])
        return "refused" if same_claim and measured == stored else ""
    if record["finished_at"] is None or str(outcome.status) != record["status"]:
        return ""
    if outcome.verification_result[:12] != record["verification_result"]:
        return ""
    return "same" if measured == stored else ""


async def finish(record_id: int, outcome: Outcome, actor: str) -> dict[str, Any]:
    """Close a running record. A consistent pass is signed and may move its device to `wiped`.

    An inconsistent pass closes the record `failed` (committed), then raises ResultRefused.
    """
    if outcome.status == Status.running:
        raise Invalid("Un effacement se termine réussi, échoué ou interrompu.")
    refused: str | None = None
    async with write_transaction(SanitizationRecord):
        record = await get(record_id)
        if record["status"] != Status.running:
            repeated = _repeated(record, outcome)
            if repeated == "same":
                return record  # a finish whose answer was lost, sent again: the first result
            if repeated == "refused":
                raise ResultRefused(record["reason"], record)
            raise Conflict(
                f"Le relevé {record_id} est déjà clos ({record['status']}) : relancez l'effacement."
            )
        notes = dict(outcome.notes)
        if outcome.evidence is not None:
            notes["purge_evidence"] = msgspec.to_builtins(outcome.evidence)
        if outcome.status == Status.passed:
            refused = await _refusal(record, outcome)
        if refused is not None:
            # What was claimed stays on the failure record, for whoever looks into it.
            notes["refused_claim"] = {
                "status": str(outcome.status),
                "verification_result": outcome.verification_result,
                "reason": outcome.reason,
            }
            outcome = msgspec.structs.replace(
                outcome, status=Status.failed, reason=refused, verification_result="refused"
            )
        values: dict[Any, Any] = {
            SanitizationRecord.status: outcome.status,
            SanitizationRecord.reason: outcome.reason,
            SanitizationRecord.method_type: outcome.method_type,
            SanitizationRecord.method: outcome.method[:60],
            SanitizationRecord.method_details: outcome.method_details,
            SanitizationRecord.tool: outcome.tool[:120],
            SanitizationRecord.verification_method: outcome.verification_method[:40],
            SanitizationRecord.verification_result: outcome.verification_result[:12],
            SanitizationRecord.verified_bytes: outcome.verified_bytes,
            SanitizationRecord.bytes_written: outcome.bytes_written,
            SanitizationRecord.finished_at: now(),
            SanitizationRecord.notes: notes,
        }
        if outcome.hidden_areas is not None:
            values[SanitizationRecord.hidden_areas] = outcome.hidden_areas[:200]
        if outcome.status == Status.passed:
            values[SanitizationRecord.certificate_id] = certificates.new_certificate_id()
        await SanitizationRecord.update(values).where(SanitizationRecord.id == record_id)
        record = await get(record_id)
        passed = outcome.status == Status.passed
        if passed:
            key_id, signature = certificates.sign(record)
            await SanitizationRecord.update(
                {SanitizationRecord.key_id: key_id, SanitizationRecord.signature: signature}
            ).where(SanitizationRecord.id == record_id)
        details = {
            "record_id": record_id,
            "method_type": outcome.method_type,
            "status": outcome.status,
        }
        if passed:
            details["certificate_id"] = record["certificate_id"]
        else:
            details["reason"] = outcome.reason
        if refused is not None:
            details["refused"] = True
        await devices.record_disk_sanitized(record["disk"], passed, actor, details)
        if passed and record["device"] is not None:
            await advance_device(record["device"], actor)
        closed = await get(record_id)
    if refused is not None:
        raise ResultRefused(refused, closed)
    return closed


async def advance_device(device_id: int, actor: str) -> None:
    """`to_wipe` → `wiped` once every disk of the device has a pass (the guard decides)."""
    device = await Device.select().where(Device.id == device_id).first()
    if device is None or device["state"] != DeviceState.to_wipe:
        return
    facts = await devices.device_facts(device)
    if facts.disks_sanitized:
        await devices.apply_transition(device["asset_tag"], "wipe_passed", actor)


async def settle_abandoned() -> int:
    """Close as interrupted the running records whose process is gone; how many were."""
    running = await SanitizationRecord.select().where(SanitizationRecord.status == Status.running)
    here = socket.gethostname()
    settled = 0
    for record in running:
        if record["host"] == here:
            alive = process_start(record["pid"]) == record["pid_start"] != 0
            if alive:
                continue
            reason = (
                f"Le processus d'effacement (pid {record['pid']}) s'est arrêté sans conclure "
                "(tué, ou machine arrêtée) : aucun certificat."
            )
        else:
            heartbeat_at = record["heartbeat_at"]
            if heartbeat_at.tzinfo is None:
                heartbeat_at = heartbeat_at.replace(tzinfo=UTC)
            if now() - heartbeat_at < STALE_AFTER:
                continue
            reason = (
                f"Plus de nouvelles du poste {record['station']} depuis "
                f"{heartbeat_at:%d/%m/%Y %H:%M} UTC : effacement considéré interrompu."
            )
        try:
            await finish(
                record["id"],
                Outcome(
                    status=Status.interrupted,
                    reason=reason,
                    method_type=MethodType(record["method_type"]),
                ),
                "system",
            )
            settled += 1
        except Conflict:
            continue  # closed meanwhile by its own process
    return settled


async def issue_pdf(record_id: int, base_url: str, actor: str) -> tuple[dict[str, Any], bytes]:
    """The certificate PDF of a passed record, stored by SHA-256, with its event.

    The record was signed when it closed (`finish`); the PDF is laid out from that stored
    record, only while its signature still verifies, so it says nothing the signed record does
    not. Laid out in a renderer process, outside any transaction; the short transaction after
    it only names the file (the first of two concurrent issuers wins, the other gets its PDF).

    Rendered once: a PDF already issued whose file is gone or altered is never re-rendered
    silently (CertificateAltered says so); restoring the file from a backup is the fix.
    """
    record = await get(record_id)
    if record["status"] != Status.passed or not record["certificate_id"]:
        raise Conflict("Pas de certificat : cet effacement n'a pas réussi.")
    if record["certificate_sha256"]:
        return record, _issued(record["certificate_sha256"])  # the same document every time
    verdict = certificates.verify(record)
    if not verdict.valid:
        raise Conflict(f"{verdict.message} Aucun PDF n'est émis pour ce relevé.")
    content = await certificates.disk_certificate_pdf_async(
        record, verify_url(base_url, record["certificate_id"])
    )
    digest, _ = certificates.store_pdf(content)
    async with write_transaction(SanitizationRecord):
        # Conditional: of two concurrent issuers, only one names its file (PostgreSQL's READ
        # COMMITTED would let both read "not issued yet" and both write).
        unissued = SanitizationRecord.certificate_sha256.is_null() | (
            SanitizationRecord.certificate_sha256 == ""
        )
        named = (
            await SanitizationRecord.update({SanitizationRecord.certificate_sha256: digest})
            .where((SanitizationRecord.id == record_id) & unissued)
            .returning(SanitizationRecord.id)
        )
        if not named:
            issued = (await get(record_id))["certificate_sha256"]  # issued by another meanwhile
        else:
            issued = digest
            disk = await Disk.select(Disk.device).where(Disk.id == record["disk"]).first()
            payload = {
                "record_id": record_id,
                "certificate_id": record["certificate_id"],
                "sha256": digest,
            }
            await devices.write_event(
                disk["device"] if disk else None, actor, CERTIFICATE_ISSUED, None, None, payload
            )
    if issued != digest:
        certificates.discard_pdf(digest)  # ours lost the race: no file left unnamed
        return await get(record_id), _issued(issued)
    return await get(record_id), content


def _issued(digest: str) -> bytes:
    """The stored PDF of an issued certificate, or CertificateAltered."""
    stored = certificates.stored_pdf(digest)
    if stored is None:
        raise CertificateAltered(
            certificates.pdf_state_message(digest)
            + " Il n'est pas refait : restaurez-le depuis une sauvegarde."
        )
    return stored


async def donation_records(donation_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A donation and, per disk, its latest passed record."""
    donation = await Donation.select().where(Donation.id == donation_id).first()
    if donation is None:
        raise NotFound(f"Don {donation_id} inconnu.")
    donor = await Donor.select().where(Donor.id == donation["donor"]).first()
    rows = (
        await SanitizationRecord.select()
        .where(
            (SanitizationRecord.donation == donation_id)
            & (SanitizationRecord.status == Status.passed)
        )
        .order_by(SanitizationRecord.id)
    )
    latest: dict[int, dict[str, Any]] = {}
    for row in rows:
        latest[row["disk"]] = row
    donation = {**donation, "donor_name": donor["name"] if donor else ""}
    return donation, sorted(latest.values(), key=lambda r: (r["asset_tag"], r["id"]))


async def records_for_disk(disk_id: int) -> list[dict[str, Any]]:
    return (
        await SanitizationRecord.select()
        .where(SanitizationRecord.disk == disk_id)
        .order_by(SanitizationRecord.id)
    )


async def running() -> list[dict[str, Any]]:
    """The wipes in progress, oldest first."""
    return (
        await SanitizationRecord.select()
        .where(SanitizationRecord.status == Status.running)
        .order_by(SanitizationRecord.started_at)
    )


async def finished(limit: int) -> list[dict[str, Any]]:
    """The latest closed records, newest first."""
    return (
        await SanitizationRecord.select()
        .where(SanitizationRecord.status != Status.running)
        .order_by(SanitizationRecord.id, ascending=False)
        .limit(limit)
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def stations() -> list[dict[str, Any]]:
    """The bench stations the records name: where they are, when last heard, what they did."""
    rows = await SanitizationRecord.select(
        SanitizationRecord.station,
        SanitizationRecord.host,
        SanitizationRecord.status,
        SanitizationRecord.heartbeat_at,
        SanitizationRecord.finished_at,
    ).order_by(SanitizationRecord.id)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row["station"] or row["host"] or "?"
        entry = found.setdefault(
            name,
            {
                "name": name,
                "host": row["host"],
                "running": 0,
                "passed": 0,
                "failed": 0,
                "last": None,
            },
        )
        entry["host"] = row["host"] or entry["host"]
        if row["status"] == Status.running:
            entry["running"] += 1
        elif row["status"] == Status.passed:
            entry["passed"] += 1
        else:
            entry["failed"] += 1
        seen = _aware(row["finished_at"]) or _aware(row["heartbeat_at"])
        if seen is not None and (entry["last"] is None or seen > entry["last"]):
            entry["last"] = seen
    return sorted(found.values(), key=lambda s: s["name"].lower())
