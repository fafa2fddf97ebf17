"""Piccolo tables of provisioning: one sanitization record per wipe attempt of a disk."""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSON, BigInt, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from inventory.states import N_
from inventory.tables import Device, Disk, Donation, Donor


class Status(StrEnum):
    running = "running"
    passed = "passed"
    failed = "failed"
    interrupted = "interrupted"


class MethodType(StrEnum):
    clear = "clear"
    purge = "purge"


class VerifyMode(StrEnum):
    """How a Clear is read back: every byte, or a sample (at least 10 %, DESIGN 5)."""

    full = "full"
    sample = "sample"


# The vocabularies above as people read them (marked for translation, translated where shown).
STATUS_WORDS = {
    Status.running.value: N_("En cours"),
    Status.passed.value: N_("Réussi"),
    Status.failed.value: N_("Échoué"),
    Status.interrupted.value: N_("Interrompu"),
}
METHOD_TYPE_WORDS = {
    MethodType.clear.value: N_("Effacement logique (Clear)"),
    MethodType.purge.value: N_("Purge matérielle"),
}
METHOD_WORDS = {
    "overwrite": N_("Écrasement de chaque secteur"),
    "ata_sanitize_block_erase": N_("ATA Sanitize, effacement des blocs"),
    "ata_sanitize_crypto_scramble": N_("ATA Sanitize, brouillage cryptographique"),
    "ata_sanitize_overwrite": N_("ATA Sanitize, réécriture"),
    "ata_security_erase": N_("ATA Security Erase"),
    "ata_security_erase_enhanced": N_("ATA Security Erase renforcé"),
    "nvme_sanitize_block_erase": N_("NVMe Sanitize, effacement des blocs"),
    "nvme_sanitize_crypto_erase": N_("NVMe Sanitize, effacement cryptographique"),
    "nvme_sanitize_overwrite": N_("NVMe Sanitize, réécriture"),
    "nvme_format_user_data": N_("NVMe Format, effacement des données"),
    "nvme_format_crypto": N_("NVMe Format, effacement cryptographique"),
}
VERIFY_WORDS = {
    VerifyMode.full.value: N_("relecture complète"),
    VerifyMode.sample.value: N_("relecture par échantillon"),
    "markers": N_("marqueurs contrôlés après la purge"),
}


class SanitizationRecord(Table):
    """What NIST SP 800-88 asks a certificate to show, plus how the attempt ended.

    Media and source fields are copied at the start, so that a certificate keeps saying what
    was true when the wipe ran even if the inventory is edited later (its signature covers them).
    """

    id: Serial  # Piccolo's implicit primary key, named for the type checker (no schema change)
    disk = ForeignKey(references=Disk, on_delete=OnDelete.restrict, null=False, index=True)
    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True)
    donation = ForeignKey(references=Donation, on_delete=OnDelete.restrict, null=True)
    donor = ForeignKey(references=Donor, on_delete=OnDelete.restrict, null=True)
    status = Varchar(length=12, choices=Status, default=Status.running, index=True)
    reason = Text(default="")
    # Media: make, model, serial, type, size, interface, hidden areas.
    media_manufacturer = Varchar(length=120, default="")
    media_model = Varchar(length=120, default="")
    media_serial = Varchar(length=120, default="")
    media_type = Varchar(length=40, default="")
    transport = Varchar(length=10, default="")
    size_bytes = BigInt(default=0)
    hidden_areas = Varchar(length=200, default="")
    asset_tag = Varchar(length=20, default="")
    source = Varchar(length=200, default="")  # the donor, as named at the time
    # Sanitization: method type, method, tool and version, verification.
    method_type = Varchar(length=8, choices=MethodType, default=MethodType.clear)
    method = Varchar(length=60, default="")
    method_details = Text(default="")
    tool = Varchar(length=120, default="")
    verification_method = Varchar(length=40, default="")
    verification_result = Varchar(length=12, default="")
    verified_bytes = BigInt(default=0)
    bytes_written = BigInt(default=0)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    heartbeat_at = Timestamptz()
    progress_bytes = BigInt(default=0)
    # Who, where, what for.
    operator = Varchar(length=120, default="")
    station = Varchar(length=120, default="")
    site = Varchar(length=120, default="")
    destination = Varchar(length=40, default="reuse")
    # Which process runs it: a running record whose process is gone was interrupted.
    host = Varchar(length=120, default="")
    pid = Integer(default=0)
    pid_start = BigInt(default=0)
    # The certificate: only for a passed record.
    certificate_id = Varchar(length=32, null=True, default=None, unique=True)
    key_id = Varchar(length=32, default="")
    signature = Text(default="")
    certificate_sha256 = Varchar(length=64, default="")
    notes = JSON(default={})
