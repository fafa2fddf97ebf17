"""The public verification page of a certificate, the workshop's public key, and the files.

Anyone may check a certificate (`/verify/<id>`) and fetch the public key (`/verify/key`,
`/verify/key.pem`). The certificate PDF, its signed JSON and its signature name the donor and
the operator, so they are for the workshop, which hands them over with the certificate.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from inventory.errors import Conflict, NotFound
from provisioning import certificates, records
from web.formatting import format_datetime
from web.roles import WORKSHOP
from web.settings import base_url

PDF_TROUBLE = {"missing", "altered"}
# The moments of a wipe as people read them (the signed JSON keeps them in UTC, ISO 8601).
MOMENTS = {"Début": "started_at", "Fin": "finished_at"}


def _readable(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, format_datetime(record[MOMENTS[name]], "d MMM y, HH:mm:ss") or value)
        if name in MOMENTS
        else (name, value)
        for name, value in certificates.public_fields(record)
    ]


@get("/verify/key", opt={"public": True}, include_in_schema=False)
async def public_key_page(request: Request) -> Template:
    """The workshop's public key: its id and PEM, to check certificates offline."""
    return Template(
        "verify_key.html",
        context={
            "key_id": certificates.public_key_id(),
            "pem": certificates.public_key_pem(),
            "principal": request.user,
        },
    )


@get("/verify/key.pem", opt={"public": True}, include_in_schema=False)
async def public_key_pem() -> Response[bytes]:
    """The workshop's Ed25519 public key as a PEM file (SubjectPublicKeyInfo)."""
    return Response(
        certificates.public_key_pem().encode(),
        media_type="application/x-pem-file",
        headers={
            "Content-Disposition": (
                f'attachment; filename="reemploi-{certificates.public_key_id()}.pem"'
            )
        },
    )


@get("/verify/{certificate_id:str}", opt={"public": True}, include_in_schema=False)
async def verify_page(request: Request, certificate_id: FromPath[str]) -> Template:
    """What anyone holding the certificate (or its QR code) may check: no personal field."""
    try:
        record = await records.by_certificate(certificate_id[:40])
    except NotFound as error:
        return Template(
            "verify.html",
            context={"record": None, "message": str(error), "principal": request.user},
            status_code=404,
        )
    verdict = certificates.verify(record)
    pdf_state = certificates.pdf_state(record["certificate_sha256"])
    return Template(
        "verify.html",
        context={
            "record": record,
            "verdict": verdict,
            "pdf_state": pdf_state,
            "pdf_trouble": pdf_state in PDF_TROUBLE,
            "pdf_message": certificates.pdf_state_message(record["certificate_sha256"]),
            "fields": _readable(record),
            "principal": request.user,
            "workshop": request.user is not None and request.user.role in WORKSHOP,
        },
    )


async def _signed(certificate_id: str) -> dict[str, Any]:
    record = await records.by_certificate(certificate_id[:40])
    if record["status"] != "passed" or not record["signature"]:
        raise Conflict("Pas de certificat : cet effacement n'a pas réussi.")
    return record


@get("/verify/{certificate_id:str}/payload.json", opt={"roles": WORKSHOP}, include_in_schema=False)
async def certificate_payload(certificate_id: FromPath[str]) -> Response[bytes]:
    """Exactly the bytes the signature covers: the canonical JSON of the certificate."""
    record = await _signed(certificate_id)
    name = f"certificat-{record['certificate_id']}.json"
    return _download(certificates.signed_bytes(record), "application/json", name)


@get("/verify/{certificate_id:str}/signature.bin", opt={"roles": WORKSHOP}, include_in_schema=False)
async def certificate_signature(certificate_id: FromPath[str]) -> Response[bytes]:
    """The raw 64-byte Ed25519 signature of the certificate (for openssl -sigfile)."""
    record = await _signed(certificate_id)
    name = f"certificat-{record['certificate_id']}.sig"
    return _download(certificates.signature_bytes(record), "application/octet-stream", name)


@get("/verify/{certificate_id:str}/pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def certificate_pdf(request: Request, certificate_id: FromPath[str]) -> Response[bytes]:
    """The signed certificate of one disk, as PDF/A (stored by SHA-256 when first issued)."""
    record = await records.by_certificate(certificate_id[:40])
    _, content = await records.issue_pdf(record["id"], base_url(), request.user.actor)
    return _pdf(content, f"certificat-{record['certificate_id']}.pdf")


@get("/donations/{donation_id:int}/certificate", opt={"roles": WORKSHOP}, include_in_schema=False)
async def donation_certificate(donation_id: FromPath[int]) -> Response[bytes]:
    """One PDF/A for a donation: every wiped disk with its certificate number (laid out in a
    renderer process, after the records are read)."""
    donation, rows = await records.donation_records(donation_id)
    if not rows:
        raise Conflict("Aucun disque de ce don n'a encore d'effacement réussi.")
    content = await certificates.donation_certificate_pdf_async(donation, rows, base_url())
    return _pdf(content, f"certificat-don-{donation_id}.pdf")


def _pdf(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def _download(content: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
