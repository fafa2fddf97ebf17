"""Lending pages: checkout on a tablet (signature canvas or paper scan), a loan, the agenda."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter
from litestar.response import Redirect, Template

from inventory.commands import build
from inventory.errors import Conflict, DomainError, Invalid
from inventory.tags import TagError
from loans import borrowers, charter, checkout, documents, mediation, queries, returns
from loans.checkout import ACCESSORIES, decode_image
from loans.returns import REASON_LABELS as RETURN_REASONS
from loans.tables import Borrower, MediationSession, Organisation, Programme
from web.accounts import Principal
from web.forms import form_to
from web.pages import borrowers as borrower_pages
from web.pages.organisations import refusal_context
from web.roles import LENDING

# Multipart: the checkout form carries the paper scan (the return form shares the layout).
Form = MultipartBody[dict[str, Any]]
Actor = NamedDependency[Principal]


async def _borrower_choices() -> list[dict[str, Any]]:
    rows = await Borrower.select().where(Borrower.anonymised_at.is_null()).order_by(Borrower.id)
    return [
        {"id": r["id"], "label": f"{await borrowers.display_name(r)} ({r['code']})"} for r in rows
    ]


async def _checkout_context(
    form: dict[str, Any] | None = None, error: str | None = None, **extra: Any
) -> dict:
    try:
        terms = await charter.in_force()
    except DomainError as refusal:
        terms, error = None, error or str(refusal)
    return {
        "borrowers": await _borrower_choices(),
        "organisations": await Organisation.select(
            Organisation.id, Organisation.name, Organisation.kind, Organisation.commune
        )
        .where(Organisation.archived_at.is_null())
        .order_by(Organisation.name),
        "programmes": await Programme.select(Programme.id, Programme.name)
        .where(Programme.archived_at.is_null())
        .order_by(Programme.name),
        "charter": terms,
        "charter_html": charter.to_html(terms["text"]) if terms else "",
        "accessories": ACCESSORIES,
        "signer_roles": checkout.SIGNER_ROLES,
        "form": form or {},
        "error": error,
        "commune_choices": {},
        **extra,
    }


@get("/loans/new", opt={"roles": LENDING}, include_in_schema=False)
async def checkout_page(
    borrower_id: Annotated[int | None, QueryParameter(ge=1, le=2**53)] = None,
    organisation_id: Annotated[int | None, QueryParameter(ge=1, le=2**53)] = None,
) -> Template:
    """The checkout form; `?borrower_id=` or `?organisation_id=` chooses the borrower."""
    form: dict[str, Any] = {}
    if borrower_id is not None:
        form["borrower_id"] = str(borrower_id)
        chosen = await Borrower.select(Borrower.kind).where(Borrower.id == borrower_id).first()
        if chosen is not None and chosen["kind"] == "organisation":
            form["signer_role"] = "school_representative"
    if organisation_id is not None:
        form["organisation_id"] = str(organisation_id)
        form["signer_role"] = "school_representative"
    return Template("checkout.html", context=await _checkout_context(form))


async def _organisation_borrower(form: dict[str, Any]) -> tuple[int | None, Any]:
    """An organisation chosen as borrower (a school's class set): its borrower record if it has
    one, else the borrower to create with the loan."""
    chosen = str(form.get("organisation_id") or "").strip()
    if not chosen.isdigit():
        return None, None
    organisation = await borrowers.get_organisation(int(chosen))
    if organisation["archived_at"] is not None:
        raise Invalid(f"L'organisation « {organisation['name']} » est archivée.")
    row = await (
        Borrower.select(Borrower.id)
        .where(
            (Borrower.organisation == organisation["id"])
            & (Borrower.kind == "organisation")
            & Borrower.anonymised_at.is_null()
        )
        .first()
    )
    if row is not None:
        return row["id"], None
    return None, borrowers.BorrowerIn(
        kind=borrowers.BorrowerKind.organisation, organisation_id=organisation["id"]
    )


async def checkout_request(form: dict[str, Any]) -> checkout.CheckoutIn:
    """The /loans/new form as the checkout's command (the struct POST /api/v1/loans fills): a
    known borrower, an organisation, or a new household typed on the form (created with the
    loan, never before it)."""
    borrower = str(form.get("borrower_id") or "").strip()
    chosen = [
        bool(borrower.isdigit()),
        str(form.get("organisation_id") or "").strip().isdigit(),
        bool(str(form.get("new_full_name") or "").strip()),
    ]
    if sum(chosen) > 1:
        raise Invalid(
            "Emprunteur : choisissez un emprunteur connu, une organisation ou un nouveau foyer, "
            "un seul des trois."
        )
    borrower_id = int(borrower) if borrower.isdigit() else None
    new_borrower = borrower_pages.parse_borrower(form, "new_") if chosen[2] else None
    if chosen[1]:
        borrower_id, new_borrower = await _organisation_borrower(form)
    accessories = [a for a in ACCESSORIES if form.get(f"acc_{a}") == "on"]
    if str(form.get("accessory_other") or "").strip():
        accessories.append(str(form.get("accessory_other") or "").strip())
    programme = str(form.get("programme_id") or "").strip()
    values = {
        "borrower_id": borrower_id,
        "tags": [t for t in str(form.get("tags") or "").strip().split() if t],
        "programme_id": int(programme) if programme.isdigit() else None,
        "accessories": accessories,
        "condition_out": str(form.get("condition_out") or "").strip(),
        "due_on": str(form.get("due_on") or "").strip() or None,
    }
    if not values["tags"]:
        raise Invalid("Scannez au moins un appareil à prêter.")
    request = build(checkout.CheckoutIn, values, strict=False)
    return msgspec.structs.replace(request, new_borrower=new_borrower)


async def _signature(form: dict[str, Any]) -> checkout.SignatureIn:
    scan = form.get("scan")
    name, role = (
        str(form.get("signer_name") or "").strip(),
        str(form.get("signer_role") or "").strip(),
    )
    if isinstance(scan, UploadFile) and scan.filename:
        content = await scan.read()
        method, image = checkout.SignatureMethod.paper, content
    else:
        drawn = str(form.get("signature_data") or "").strip()
        method, image = checkout.SignatureMethod.drawn, decode_image(drawn) if drawn else b""
    # Built as typed (an empty image or name, an unknown role): the service refuses each with
    # its sentence after the devices, in the same order as for the API.
    return checkout.SignatureIn(method, image, name, role)  # type: ignore[arg-type]


@post("/loans/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def checkout_submit(data: Form, principal: Actor) -> Redirect | Template:
    """Same service as POST /api/v1/loans; a refusal comes back on the form, nothing saved."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    form.pop("signature_data", None)
    try:
        request = await checkout_request(form)
        signed = msgspec.structs.replace(request, signature=await _signature(data))
        loan = await checkout.at_counter(signed, principal.actor)
    except (DomainError, TagError) as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        context = await _checkout_context(form, **refusal_context(refusal))
        return Template("checkout.html", context=context, status_code=status)
    return Redirect(f"/loans/{loan['id']}", status_code=303)


@get("/loans", opt={"roles": LENDING}, include_in_schema=False)
async def loan_list(
    loan_status: Annotated[str | None, QueryParameter(name="status", max_length=10)] = None,
) -> Template:
    status = loan_status if loan_status in ("open", "closed") else None
    rows, total = await queries.list_loans(status=status, limit=200)
    return Template("loans.html", context={"loans": rows, "total": total, "status": status})


@get("/loans/{loan_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def loan_page(loan_id: FromPath[int]) -> Template:
    loan = await queries.loan_detail(loan_id)
    sessions = await (
        MediationSession.select()
        .where(MediationSession.loan == loan_id)
        .order_by(MediationSession.planned_on)
        .output(load_json=True)
    )
    return Template(
        "loan.html",
        context={
            "loan": loan,
            "sessions": sessions,
            "events": await queries.loan_events(loan_id),
            "statuses": mediation.STATUSES,
            "signer_roles": checkout.SIGNER_ROLES,
        },
    )


@get("/loans/{loan_id:int}/charter.pdf", opt={"roles": LENDING}, include_in_schema=False)
async def loan_document(loan_id: FromPath[int]) -> Response[bytes]:
    loan = await queries.loan_detail(loan_id)
    return Response(
        documents.read(loan["document_sha256"]),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="charte-pret-{loan_id}.pdf"'},
    )


@get("/returns", opt={"roles": LENDING}, include_in_schema=False)
async def return_page() -> Template:
    return Template("checkin.html", context={"reasons": RETURN_REASONS, "form": {}})


@post("/returns", opt={"roles": LENDING}, include_in_schema=False, status_code=200)
async def return_submit(data: Form, principal: Actor) -> Template:
    """The check-in checklist; same command and service as POST /api/v1/loans/returns."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        loan = await returns.take_back(form_to(returns.ReturnIn, form), principal.actor)
    except (DomainError, TagError) as refusal:
        context = {"reasons": RETURN_REASONS, "form": form, "error": str(refusal)}
        return Template("checkin.html", context=context, status_code=422)
    context = {"reasons": RETURN_REASONS, "form": {}, "done": loan}
    return Template("checkin.html", context=context)
