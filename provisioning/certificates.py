"""Erasure certificates: the signed payload of a record, the workshop's key, the PDFs.

The signature is Ed25519 over the canonical JSON of the record's certificate fields (sorted
keys, no spaces, UTF-8). Verification recomputes that JSON from the stored record, so changing
any certified field, even by one byte, breaks it. Anyone can check it offline with the published
public key (docs/certificates.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from inventory import config, datadir
from labels.barcode import qr_svg
from labels.pdf import render_pdf, render_pdf_async

TEMPLATES = Path(__file__).parent / "templates"
PAYLOAD_VERSION = 1
KEY_FILE = "workshop-ed25519.pem"

METHOD_TYPE_LABELS = {"clear": "Clear", "purge": "Purge"}
VERIFY_LABELS = {
    "full": "Relecture complète",
    "sample": "Relecture par échantillon (premier et dernier secteurs, blocs pseudo-aléatoires)",
    "markers": "Marqueurs écrits avant la purge, contrôlés après",
}
DESTINATION_LABELS = {"reuse": "Réemploi (don ou prêt)"}
METHOD_LABELS = {"overwrite": "Écrasement (overwrite)"}


def method_text(record: dict[str, Any]) -> str:
    return METHOD_LABELS.get(record["method"], str(record["method"]))


def new_certificate_id() -> str:
    """Short, unguessable, easy to read aloud: 16 base32 characters in groups of four."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode().rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _when(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Seconds only: both databases round-trip them exactly.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(record: dict[str, Any]) -> dict[str, Any]:
    """The certified fields of a record (NIST SP 800-88 appendix G), as signed.

    A Purge also signs its evidence (commands, drive's completion status, marker check); records
    without evidence keep the exact payload they were signed with.
    """
    signed = {
        "version": PAYLOAD_VERSION,
        "certificate_id": record["certificate_id"],
        "record_id": record["id"],
        "media": {
            "manufacturer": record["media_manufacturer"],
            "model": record["media_model"],
            "serial": record["media_serial"],
            "type": record["media_type"],
            "transport": record["transport"],
            "size_bytes": record["size_bytes"],
            "hidden_areas": record["hidden_areas"],
            "asset_tag": record["asset_tag"],
        },
        "source": record["source"],
        "sanitization": {
            "method_type": record["method_type"],
            "method": record["method"],
            "method_details": record["method_details"],
            "tool": record["tool"],
            "verification_method": record["verification_method"],
            "verification_result": record["verification_result"],
            "verified_bytes": record["verified_bytes"],
            "bytes_written": record["bytes_written"],
            "started_at": _when(record["started_at"]),
            "finished_at": _when(record["finished_at"]),
        },
        "operator": record["operator"],
        "station": record["station"],
        "site": record["site"],
        "destination": record["destination"],
        "key_id": record["key_id"],
    }
    evidence = purge_evidence(record)
    if record["method_type"] == "purge" and evidence:
        signed["sanitization"]["purge_evidence"] = evidence
    return signed


def purge_evidence(record: dict[str, Any]) -> dict[str, Any] | None:
    """The Purge evidence kept in a record's notes (loaded or still JSON text), if any."""
    notes = record.get("notes") or {}
    if isinstance(notes, str):
        notes = json.loads(notes)
    return notes.get("purge_evidence")


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_path() -> Path:
    return config.data_dir() / "keys" / KEY_FILE


def workshop_key() -> Ed25519PrivateKey:
    """The workshop's signing key, created on first use (file mode 0600, folder 0700)."""
    path = key_path()
    if not path.exists():
        datadir.private_dir(path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if another process created the key meanwhile: theirs wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} ne contient pas une clé Ed25519.")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem() -> str:
    return (
        workshop_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_key_id() -> str:
    return key_id(workshop_key().public_key())


def signed_bytes(record: dict[str, Any]) -> bytes:
    """Exactly the bytes the signature covers: the canonical JSON of the stored record."""
    return canonical(payload(record))


def signature_bytes(record: dict[str, Any]) -> bytes:
    """The raw 64-byte Ed25519 signature (what `openssl pkeyutl -sigfile` reads)."""
    return base64.b64decode(record["signature"])


def sign(record: dict[str, Any]) -> tuple[str, str]:
    """(key id, base64 signature) of a record whose certificate_id is set."""
    key = workshop_key()
    kid = key_id(key.public_key())
    signed = canonical(payload({**record, "key_id": kid}))
    return kid, base64.b64encode(key.sign(signed)).decode()


@dataclass(frozen=True)
class Verdict:
    valid: bool
    message: str


def verify(record: dict[str, Any]) -> Verdict:
    """Whether the stored record still matches its signature, with a sentence saying so."""
    if record.get("status") != "passed" or not record.get("signature"):
        return Verdict(False, "Ce relevé n'a pas de certificat : l'effacement n'a pas abouti.")
    public = workshop_key().public_key()
    if record["key_id"] != key_id(public):
        return Verdict(False, "Signé par une autre clé que celle de cet atelier.")
    try:
        public.verify(base64.b64decode(record["signature"]), canonical(payload(record)))
    except (InvalidSignature, ValueError):
        return Verdict(False, "Signature invalide : le relevé a été modifié depuis sa signature.")
    return Verdict(True, "Signature valide : ce certificat est authentique et inchangé.")


def public_fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What the public page may show: no donor, no operator, nothing personal."""
    return [
        ("Certificat", record["certificate_id"] or "—"),
        ("Support", f"{record['media_manufacturer']} {record['media_model']}".strip()),
        ("Numéro de série", record["media_serial"] or "non communiqué"),
        ("Type de support", record["media_type"]),
        ("Capacité", human_size(record["size_bytes"])),
        ("Méthode NIST SP 800-88", METHOD_TYPE_LABELS.get(record["method_type"], "?")),
        ("Technique", record["method_details"]),
        ("Outil", record["tool"]),
        ("Vérification", verification_text(record)),
        ("Début", _when(record["started_at"]) or "—"),
        ("Fin", _when(record["finished_at"]) or "—"),
        ("Atelier", record["site"] or "—"),
        ("Destination", DESTINATION_LABELS.get(record["destination"], str(record["destination"]))),
        *purge_evidence_fields(record),
    ]


def purge_evidence_fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What proves a Purge: the drive's completion status and the marker check (signed too)."""
    evidence = purge_evidence(record)
    if record["method_type"] != "purge" or not evidence:
        return []
    markers = evidence.get("markers", {})
    return [
        ("Commande de purge", " ; ".join(evidence.get("commands", []))),
        (
            "Fin signalée par le disque",
            f"{evidence.get('completion', '?')} ({evidence.get('completion_source', '?')})",
        ),
        (
            "Contrôle des marqueurs",
            f"{markers.get('markers', 0)} marqueurs contrôlés, "
            f"{markers.get('survivors', '?')} ayant survécu",
        ),
    ]


def human_size(size: int) -> str:
    return f"{size / 1e9:.1f} Go ({size:,} octets)".replace(",", " ")


def verification_text(record: dict[str, Any]) -> str:
    label = VERIFY_LABELS.get(record["verification_method"], record["verification_method"])
    result = {"passed": "réussie", "failed": "échouée", "refused": "refusée"}.get(
        record["verification_result"], record["verification_result"] or "non faite"
    )
    return f"{label} : {result} ({record['verified_bytes']:,} octets relus)".replace(",", " ")


def _disk_context(record: dict[str, Any], verify_url: str) -> dict[str, Any]:
    """What the disk certificate shows: only fields of the stored (signed) record."""
    return {
        "record": record,
        "fields": certificate_fields(record),
        "verify_url": verify_url,
        "qr": qr_svg(verify_url, 30),
        "method_type": METHOD_TYPE_LABELS.get(record["method_type"], "?"),
    }


def _donation_context(
    donation: dict[str, Any], records: list[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    return {
        "donation": donation,
        "records": records,
        "base_url": base_url.rstrip("/"),
        "labels": METHOD_TYPE_LABELS,
        "verification_text": verification_text,
        "human_size": human_size,
        "when": _when,
    }


def disk_certificate_pdf(record: dict[str, Any], verify_url: str) -> bytes:
    """The PDF/A certificate of one disk, with the QR code of its public verification page
    (synchronous: command-line tools; async code uses `disk_certificate_pdf_async`)."""
    context = _disk_context(record, verify_url)
    return render_pdf("certificate_disk.html", context, pdfa=True, search_path=[TEMPLATES])


async def disk_certificate_pdf_async(record: dict[str, Any], verify_url: str) -> bytes:
    """`disk_certificate_pdf` laid out in a renderer process: the event loop goes on."""
    context = _disk_context(record, verify_url)
    return await render_pdf_async(
        "certificate_disk.html", context, pdfa=True, search_path=[TEMPLATES]
    )


def donation_certificate_pdf(
    donation: dict[str, Any], records: list[dict[str, Any]], base_url: str
) -> bytes:
    """One PDF/A for a whole donation: each disk, its method and its certificate number
    (synchronous: command-line tools; async code uses `donation_certificate_pdf_async`)."""
    context = _donation_context(donation, records, base_url)
    return render_pdf("certificate_donation.html", context, pdfa=True, search_path=[TEMPLATES])


async def donation_certificate_pdf_async(
    donation: dict[str, Any], records: list[dict[str, Any]], base_url: str
) -> bytes:
    """`donation_certificate_pdf` laid out in a renderer process."""
    context = _donation_context(donation, records, base_url)
    return await render_pdf_async(
        "certificate_donation.html", context, pdfa=True, search_path=[TEMPLATES]
    )


def certificate_fields(record: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections of the disk certificate, in NIST SP 800-88 appendix G order."""
    sanitized = [
        ("Type de méthode", METHOD_TYPE_LABELS.get(record["method_type"], "?")),
        ("Méthode", method_text(record)),
        ("Détails", record["method_details"]),
        ("Outil et version", record["tool"]),
        ("Vérification", verification_text(record)),
        ("Octets effacés", f"{record['bytes_written']:,}".replace(",", " ")),
        *purge_evidence_fields(record),
        ("Début", _when(record["started_at"]) or "—"),
        ("Fin", _when(record["finished_at"]) or "—"),
        ("Classification après effacement", "Non classifié"),
    ]
    return [
        (
            "Support",
            [
                ("Fabricant", record["media_manufacturer"] or "non communiqué"),
                ("Modèle", record["media_model"] or "non communiqué"),
                ("Numéro de série", record["media_serial"] or "non communiqué"),
                ("Type", record["media_type"]),
                ("Interface", record["transport"]),
                ("Capacité", human_size(record["size_bytes"])),
                ("Zones cachées (HPA/DCO)", record["hidden_areas"] or "—"),
                ("Appareil (étiquette)", record["asset_tag"] or "disque seul"),
                ("Provenance (donateur)", record["source"] or "—"),
            ],
        ),
        ("Effacement", sanitized),
        (
            "Intervention",
            [
                ("Opérateur", record["operator"]),
                ("Poste d'effacement", record["station"]),
                ("Atelier", record["site"] or "—"),
                ("Destination", DESTINATION_LABELS.get(record["destination"], "?")),
            ],
        ),
    ]


# Certificate PDFs live in the data folder's `documents/`, named `<sha256>.pdf`: the one
# naming of this store (the self-audit, the verification page and backups rely on it).
PDF_SUFFIX = ".pdf"


def pdf_path(digest: str) -> Path:
    """Where the certificate PDF with this SHA-256 is kept."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"Empreinte SHA-256 invalide : {digest[:80]!r}")
    return config.data_dir() / "documents" / f"{digest}{PDF_SUFFIX}"


def store_pdf(content: bytes) -> tuple[str, Path]:
    """Keep a document under the data folder, named by its SHA-256 (DESIGN 3)."""
    digest = hashlib.sha256(content).hexdigest()
    path = pdf_path(digest)
    if not path.exists():
        datadir.write_private(path, content)
    return digest, path


def discard_pdf(digest: str) -> None:
    """Remove a PDF just stored that no record names (it lost a race to be issued)."""
    pdf_path(digest).unlink(missing_ok=True)


def _stored(digest: str) -> bytes | None:
    try:
        return pdf_path(digest).read_bytes()
    except (OSError, ValueError):
        return None


def pdf_state(digest: str) -> str:
    """The stored certificate PDF: `not_issued`, `missing`, `altered` or `intact`."""
    if not digest:
        return "not_issued"
    content = _stored(digest)
    if content is None:
        return "missing"
    return "intact" if hashlib.sha256(content).hexdigest() == digest else "altered"


def pdf_state_message(digest: str) -> str:
    """One sentence on the stored PDF of a certificate, for the verification page."""
    return {
        "not_issued": "Le PDF de ce certificat n'a pas encore été émis.",
        "missing": (
            f"Le PDF enregistré de ce certificat est introuvable (empreinte SHA-256 {digest})."
        ),
        "altered": (
            "Le PDF enregistré de ce certificat ne correspond plus à son empreinte SHA-256 "
            f"({digest}) : il a été modifié ou abîmé depuis son émission."
        ),
        "intact": (
            f"Le PDF enregistré correspond à son empreinte SHA-256 ({digest}) : il est inchangé."
        ),
    }[pdf_state(digest)]


def stored_pdf(digest: str) -> bytes | None:
    """A document kept by `store_pdf`, if it is there and still matches its name."""
    if not digest:
        return None
    content = _stored(digest)
    if content is None:
        return None
    return content if hashlib.sha256(content).hexdigest() == digest else None
