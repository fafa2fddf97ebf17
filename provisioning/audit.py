"""Self-audit of erasure certificates (each signature verifies, each stored PDF is intact) and
of jobs (none "running" without a live worker's heartbeat)."""

from __future__ import annotations

import hashlib
from typing import Any

from inventory.audit import Violation
from inventory.clock import now
from provisioning import certificates
from provisioning.imaging import jobs
from provisioning.imaging.tables import DeploymentJob, JobStatus
from provisioning.tables import SanitizationRecord, Status

BATCH = 2000
pdf_path = certificates.pdf_path  # where a certificate PDF is kept (one naming, one place)


def _subject(record: dict[str, Any]) -> str:
    return f"certificat {record['certificate_id'] or record['id']}"


def _who(record: dict[str, Any]) -> str:
    where = f"de l'appareil {record['asset_tag']}" if record["asset_tag"] else "d'un disque seul"
    name = record["certificate_id"] or "sans numéro"
    return f"Le certificat {name} (relevé n° {record['id']}, {where})"


def _signature_sentence(record: dict[str, Any], key_present: bool) -> str | None:
    if record["status"] != Status.passed:
        return "porte un numéro de certificat alors que l'effacement n'a pas réussi."
    if not key_present:
        return "ne peut pas être vérifié : la clé de l'atelier est introuvable."
    verdict = certificates.verify(record)
    return None if verdict.valid else f": {verdict.message}"


def certificate_violations(record: dict[str, Any], key_present: bool) -> list[Violation]:
    """A certified record verifies against the workshop key; its stored PDF matches its hash."""
    subject, who = _subject(record), _who(record)
    found = []
    if record["certificate_id"]:
        problem = _signature_sentence(record, key_present)
        if problem:
            found.append(Violation("certificate", subject, f"{who} {problem}"))
    digest = record["certificate_sha256"]
    if digest:
        try:
            content = certificates.pdf_path(digest).read_bytes()
        except (OSError, ValueError):
            sentence = f"{who} : son PDF enregistré est introuvable dans le dossier des documents."
            found.append(Violation("certificate_pdf", subject, sentence))
        else:
            if hashlib.sha256(content).hexdigest() != digest:
                sentence = f"{who} : son PDF enregistré a été modifié (SHA-256 différent)."
                found.append(Violation("certificate_pdf", subject, sentence))
    return found


async def audit_certificates() -> tuple[list[Violation], set[str]]:
    """Violations over every certified record, and the document file names they account for."""
    key_present = certificates.key_path().exists()
    found: list[Violation] = []
    names: set[str] = set()
    last_id = 0
    while True:
        rows = await (
            SanitizationRecord.select()
            .where(
                (SanitizationRecord.id > last_id)
                & (
                    SanitizationRecord.certificate_id.is_not_null()
                    | (SanitizationRecord.certificate_sha256 != "")
                )
            )
            .order_by(SanitizationRecord.id)
            .limit(BATCH)
            .output(load_json=True)
        )
        if not rows:
            return found, names
        for record in rows:
            if record["certificate_sha256"]:
                names.add(record["certificate_sha256"] + certificates.PDF_SUFFIX)
            # Laid out before the record was attached to its device: kept, not current.
            for superseded in (record["notes"] or {}).get("superseded_pdfs", []):
                names.add(superseded + certificates.PDF_SUFFIX)
            found += certificate_violations(record, key_present)
        last_id = rows[-1]["id"]


async def audit_jobs() -> list[Violation]:
    """Every job "running" has a live worker: its process runs here, or it beat recently."""
    cutoff = now() - jobs.STALE_AFTER
    running = await DeploymentJob.select(
        DeploymentJob.id, DeploymentJob.worker, DeploymentJob.heartbeat_at
    ).where(DeploymentJob.status == JobStatus.running)
    found = []
    for job in running:
        beat = job["heartbeat_at"]
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=cutoff.tzinfo)
        if jobs.worker_gone(job["worker"]):
            why = f"son worker ({job['worker']}) ne tourne plus"
        elif beat is None or beat < cutoff:
            when = f"{beat:%d/%m/%Y %H:%M:%S} UTC" if beat else "jamais"
            why = f"son worker ({job['worker'] or '?'}) est silencieux (dernier signe : {when})"
        else:
            continue
        sentence = (
            f"Le déploiement n° {job['id']} est « en cours » alors que {why} : "
            "démarrez « reemploi worker », qui le reprend ou le clôt avec sa raison."
        )
        found.append(Violation("job", f"déploiement {job['id']}", sentence))
    return found
