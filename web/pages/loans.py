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
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from inventory.tags import TagError
from loans import (
    borrowers,
    cession,
    charter,
    checkout,
    deposits,
    documents,
    mediation,
    memberships,
    queries,
    returns,
)
from loans.checkout import ACCESSORIES, decode_image
from loans.memberships import METHOD_LABELS, PAYMENT_LABELS
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
        "programmes": await Programme.select(
            Programme.id,
            Programme.name,
            Programme.membership_required,
            Programme.membership_fee_cents,
            Programme.deposit_cents,
        )
        .where(Programme.archived_at.is_null())
        .order_by(Programme.name),
        "charter": terms,
        "charter_html": charter.to_html(terms["text"]) if terms else "",
        "accessories": ACCESSORIES,
        "signer_roles": checkout.SIGNER_ROLES,
        "payments": {str(k): v for k, v in PAYMENT_LABELS.items()},
        "methods": {str(k): v for k, v in METHOD_LABELS.items()},
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
        **{
            key: str(form.get(key) or "").strip() or None
            for key in (
                "membership_payment",
                "membership_method",
                "deposit_payment",
                "deposit_method",
            )
        },
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


MONEY_LABELS = {
    "membership_status": {str(k): v for k, v in memberships.MEMBERSHIP_STATUS_LABELS.items()},
    "deposit_status": {str(k): v for k, v in deposits.DEPOSIT_STATUS_LABELS.items()},
    "methods": {str(k): v for k, v in METHOD_LABELS.items()},
    "settlements": {str(k): v for k, v in deposits.SETTLEMENT_LABELS.items()},
    "cession_kinds": {str(k): v for k, v in cession.CESSION_LABELS.items()},
    "events": memberships.EVENT_LABELS,
}


@get("/loans/{loan_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def loan_page(loan_id: FromPath[int]) -> Template:
    return await _loan_template(loan_id)


async def _loan_template(loan_id: int, status: int = 200, **extra: Any) -> Template:
    """The loan page; `extra` carries a refusal, a warning or a confirmation to show."""
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
            "membership": await memberships.of_loan(loan_id),
            "deposit": await deposits.of_loan(loan_id),
            "money": MONEY_LABELS,
            "form": {},
            **extra,
        },
        status_code=status,
    )


@post("/loans/{loan_id:int}/deposit", opt={"roles": LENDING}, include_in_schema=False)
async def deposit_settle(
    loan_id: FromPath[int], data: Form, principal: Actor
) -> Template | Redirect:
    """Refund or keep the loan's deposit; same command and service as the API."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        await deposits.settle(loan_id, form_to(deposits.DepositSettleIn, form), principal.actor)
    except DomainError as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        return await _loan_template(loan_id, status, deposit_error=str(refusal), form=form)
    return Redirect(f"/loans/{loan_id}", status_code=303)


def _cession_form(form: dict[str, Any], borrower_code: str) -> dict[str, Any]:
    """The cession form as CessionIn's fields: the price typed in euros, the loan's borrower."""
    price = cession.price_cents(str(form.get("price") or ""))
    return {**form, "borrower_code": borrower_code, "price_cents": str(price)}


@post("/loans/{loan_id:int}/cession", opt={"roles": LENDING}, include_in_schema=False)
async def cession_submit(loan_id: FromPath[int], data: Form, principal: Actor) -> Template:
    """Give or sell a device to the loan's borrower; above a public body's cap the page first
    shows the warning and asks to confirm (not a refusal)."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    loan = await queries.loan_detail(loan_id)
    try:
        if not str(form.get("tag") or "").strip():
            raise FieldInvalid("tag", "Appareil cédé : scannez son étiquette.")
        command = form_to(cession.CessionIn, _cession_form(form, loan["borrower_code"]))
        warning = await cession.preview(command)
        if warning and form.get("confirm") != "on":
            return await _loan_template(loan_id, cession_warning=warning, cession_form=form)
        done = await cession.cede(command, principal.actor)
    except (DomainError, TagError) as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        return await _loan_template(loan_id, status, cession_error=str(refusal), cession_form=form)
    return await _loan_template(loan_id, cession_done=done)


# Not yet listed by web/app.py one by one: web.pages.programmes.ROUTES carries them.


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
    return Template(
        "checkin.html", context={"reasons": RETURN_REASONS, "form": {}, **_checkin_choices()}
    )


def _checkin_choices() -> dict[str, Any]:
    return {"settlements": MONEY_LABELS["settlements"]}


@post("/returns", opt={"roles": LENDING}, include_in_schema=False, status_code=200)
async def return_submit(data: Form, principal: Actor) -> Template:
    """The check-in checklist; same command and service as POST /api/v1/loans/returns."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        loan = await returns.take_back(form_to(returns.ReturnIn, form), principal.actor)
    except (DomainError, TagError) as refusal:
        context = {
            "reasons": RETURN_REASONS,
            "form": form,
            "error": str(refusal),
            **_checkin_choices(),
        }
        return Template("checkin.html", context=context, status_code=422)
    context = {"reasons": RETURN_REASONS, "form": {}, "done": loan, **_checkin_choices()}
    return Template("checkin.html", context=context)
