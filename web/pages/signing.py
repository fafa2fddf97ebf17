"""One-time signing links: made from a loan in preparation (staff), then the public page (the token
is the credential), its canvas, and the signed charter for its signer to download for a while."""

from __future__ import annotations

from typing import Any

import msgspec
import segno
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from litestar.response import Template

from inventory.clock import now
from inventory.config import settings
from inventory.errors import Conflict, DomainError, NotFound
from inventory.tags import TagError
from loans import charter, checkout, documents, signing
from web.accounts import Principal
from web.forms import form_to, form_values
from web.pages import loans as loan_pages
from web.pages.organisations import refusal_context
from web.roles import LENDING

# The checkout form (it may carry a paper scan) sent with "Créer un lien de signature".
CheckoutForm = MultipartBody[dict[str, Any]]
TOKEN_LIMIT = 100


def _origin(request: Request) -> str:
    """Where the borrower's phone reaches this server: REEMPLOI_BASE_URL, else this request's."""
    current = settings()
    if current.base_url_configured:
        return current.base_url
    return str(request.base_url).rstrip("/")


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=6, border=4, dark="#000", light="#fff")


@post("/loans/links", opt={"roles": LENDING}, include_in_schema=False, status_code=200)
async def link_create(
    request: Request, data: CheckoutForm, principal: NamedDependency[Principal]
) -> Template:
    """The checkout form, sent with "Créer un lien de signature": the loan is checked as for a
    checkout, nothing is lent; the borrower signs later through the link."""
    form = {k: v for k, v in data.items() if isinstance(v, str) and k != "signature_data"}
    try:
        command = await loan_pages.checkout_request(form)  # the checkout's own form parsing
        token, expires_at = await signing.create_link(command, principal.actor)
        _, prepared = await signing.open_link(token)
    except (DomainError, TagError) as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        said = (
            refusal_context(refusal)
            if isinstance(refusal, DomainError)
            else {"error": str(refusal), "error_field": ""}
        )
        context = await loan_pages._checkout_context(form, **said)
        return Template("checkout.html", context=context, status_code=status)
    url = f"{_origin(request)}/sign/{token}"
    hours = round((expires_at - now()).total_seconds() / 3600)
    return Template(
        "sign_link.html",
        context={
            "url": url,
            "qr": qr_data_uri(url),
            "expires_at": expires_at,
            "hours": hours,
            "prepared": prepared,
        },
    )


async def _context(
    token: str, error: str | None = None, form: dict[str, Any] | None = None
) -> dict[str, Any]:
    try:
        _, prepared = await signing.open_link(token)
    except (DomainError, TagError) as refusal:
        return {"closed": str(refusal), "error": None, "signed": await _signed(token)}
    return {
        "closed": None,
        "token": token,
        "prepared": prepared,
        "charter_html": charter.to_html(prepared.charter["text"]),
        "signer_roles": checkout.SIGNER_ROLES,
        "form": form or {"signer_role": _likely_signer(prepared.borrower)},
        "error": error,
    }


def _likely_signer(borrower: dict[str, Any]) -> str:
    """The signer's role preselected: a school's representative, a minor's guardian, or self."""
    if borrower["kind"] == "organisation":
        return "school_representative"
    return "legal_guardian" if borrower.get("is_minor") else "self"


async def _signed(token: str) -> dict[str, Any] | None:
    """The loan signed through this link while its signer may still download the charter."""
    try:
        loan = await signing.signed_loan(token)
    except DomainError:
        return None
    return {"token": token, **msgspec.structs.asdict(loan)}


@get("/sign/{token:str}", opt={"public": True}, include_in_schema=False)
async def signing_page(token: FromPath[str]) -> Template:
    context = await _context(token[:TOKEN_LIMIT])
    return Template("sign.html", context=context, status_code=410 if context["closed"] else 200)


@post("/sign/{token:str}", opt={"public": True}, include_in_schema=False, status_code=200)
async def signing_submit(token: FromPath[str], data: URLEncodedBody[dict[str, Any]]) -> Template:
    """Sign through the link; the link is spent only when the loan is made."""
    token = token[:TOKEN_LIMIT]
    try:
        await signing.sign(token, form_to(signing.LinkSignatureIn, data))
    except (DomainError, TagError) as refusal:
        form = form_values(signing.LinkSignatureIn, data)
        form.pop("signature_data", None)
        context = await _context(token, str(refusal), form)
        return Template("sign.html", context=context, status_code=422)
    return Template("signed.html", context={"signed": await _signed(token)})


@get("/sign/{token:str}/charte.pdf", opt={"public": True}, include_in_schema=False)
async def signed_charter_pdf(token: FromPath[str]) -> Response[bytes] | Template:
    """The signed charter, for whoever holds the link, for a day after signing; never listed."""
    try:
        loan = await signing.signed_loan(token[:TOKEN_LIMIT])
    except DomainError as refusal:
        status = 404 if isinstance(refusal, NotFound) else 410
        return Template(
            "sign.html", context={"closed": str(refusal), "signed": None}, status_code=status
        )
    return Response(
        documents.read(loan.document_sha256),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="charte-signee-{loan.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


ROUTES: list[Any] = [signing_page, signing_submit, link_create, signed_charter_pdf]
