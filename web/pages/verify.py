"""The public verification page of a certificate, and the certificate PDFs for the workshop."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.response import Template

from inventory.errors import Conflict, NotFound
from provisioning import certificates, records
from web.roles import WORKSHOP
from web.settings import base_url


@get("/verify/{certificate_id:str}", opt={"public": True}, include_in_schema=False)
async def verify_page(request: Request, certificate_id: str) -> Template:
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
    return Template(
        "verify.html",
        context={
            "record": record,
            "verdict": verdict,
            "fields": certificates.public_fields(record),
            "principal": request.user,
        },
    )


@get("/verify/{certificate_id:str}/pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def certificate_pdf(request: Request, certificate_id: str) -> Response[bytes]:
    """The signed certificate of one disk, as PDF/A (stored by SHA-256 when first issued)."""
    record = await records.by_certificate(certificate_id[:40])
    _, content = await records.issue_pdf(record["id"], base_url(), request.user.actor)
    return _pdf(content, f"certificat-{record['certificate_id']}.pdf")


@get("/donations/{donation_id:int}/certificate", opt={"roles": WORKSHOP}, include_in_schema=False)
async def donation_certificate(donation_id: int) -> Response[bytes]:
    """One PDF/A for a donation: every wiped disk with its certificate number."""
    donation, rows = await records.donation_records(donation_id)
    if not rows:
        raise Conflict("Aucun disque de ce don n'a encore d'effacement réussi.")
    content = certificates.donation_certificate_pdf(donation, rows, base_url())
    return _pdf(content, f"certificat-don-{donation_id}.pdf")


def _pdf(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
