"""Lending pages: checkout on a tablet (signature canvas or paper scan), a loan, the agenda."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError, Invalid
from inventory.states import N_
from inventory.tags import TagError
from loans import borrowers, charter, checkout, documents, mediation, queries, returns
from loans.tables import Borrower, MediationSession, Organisation, Programme
from web.accounts import Principal
from web.api.loans import decode_image
from web.pages import borrowers as borrower_pages
from web.pages.organisations import refusal_context
from web.roles import LENDING

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ACCESSORIES = ["chargeur", "sacoche", "souris"]


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
    borrower_id: Annotated[int | None, Parameter(ge=1, le=2**53)] = None,
    organisation_id: Annotated[int | None, Parameter(ge=1, le=2**53)] = None,
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


def _text(form: dict[str, Any], key: str, limit: int = 200) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _organisation_borrower(form: dict[str, Any]) -> tuple[int | None, Any]:
    """An organisation chosen as borrower (a school's class set): its borrower record if it has
    one, else the borrower to create with the loan."""
    chosen = _text(form, "organisation_id", 12)
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
    return None, borrowers.BorrowerIn(kind="organisation", organisation_id=organisation["id"])


async def checkout_request(form: dict[str, Any]) -> checkout.CheckoutIn:
    """The /loans/new form as the checkout's command (the struct POST /api/v1/loans fills): a
    known borrower, an organisation, or a new household typed on the form (created with the
    loan, never before it)."""
    borrower = _text(form, "borrower_id", 12)
    chosen = [
        bool(borrower.isdigit()),
        _text(form, "organisation_id", 12).isdigit(),
        bool(_text(form, "new_full_name")),
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
    if _text(form, "accessory_other"):
        accessories.append(_text(form, "accessory_other", 100))
    programme = _text(form, "programme_id")
    return checkout.CheckoutIn(
        borrower_id=borrower_id,
        new_borrower=new_borrower,
        tags=[t for t in _text(form, "tags", 5000).split() if t],
        programme_id=int(programme) if programme.isdigit() else None,
        accessories=accessories,
        condition_out=_text(form, "condition_out", 2000),
        due_on=_due_on(form),
    )


def _due_on(form: dict[str, Any]) -> date | None:
    due = _text(form, "due_on", 10)
    try:
        return date.fromisoformat(due) if due else None
    except ValueError:
        raise Invalid("Date de retour invalide : choisissez-la dans le calendrier.") from None


async def _signature(form: dict[str, Any]) -> checkout.SignatureIn:
    scan = form.get("scan")
    name, role = _text(form, "signer_name"), _text(form, "signer_role", 30)
    if isinstance(scan, UploadFile) and scan.filename:
        content = await scan.read()
        return checkout.SignatureIn("paper", content, name, role)
    drawn = _text(form, "signature_data", 9_000_000)
    image = decode_image(drawn) if drawn else b""
    return checkout.SignatureIn("drawn", image, name, role)


@post("/loans/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def checkout_submit(data: Form, principal: Principal) -> Redirect | Template:
    """Same service as POST /api/v1/loans; a refusal comes back on the form, nothing saved."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    form.pop("signature_data", None)
    try:
        request = await checkout_request(form)
        loan = await checkout.checkout(request, await _signature(data), principal.actor)
    except (DomainError, TagError) as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        context = await _checkout_context(form, **refusal_context(refusal))
        return Template("checkout.html", context=context, status_code=status)
    return Redirect(f"/loans/{loan['id']}", status_code=303)


@get("/loans", opt={"roles": LENDING}, include_in_schema=False)
async def loan_list(
    loan_status: Annotated[str | None, Parameter(query="status", max_length=10)] = None,
) -> Template:
    status = loan_status if loan_status in ("open", "closed") else None
    rows, total = await queries.list_loans(status=status, limit=200)
    return Template("loans.html", context={"loans": rows, "total": total, "status": status})


@get("/loans/{loan_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def loan_page(loan_id: int) -> Template:
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
async def loan_document(loan_id: int) -> Response[bytes]:
    loan = await queries.loan_detail(loan_id)
    return Response(
        documents.read(loan["document_sha256"]),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="charte-pret-{loan_id}.pdf"'},
    )


RETURN_REASONS = {
    "end": N_("Fin de prêt (l'appareil part à l'effacement)"),
    "repair": N_("Réparation pendant le prêt (rendu au même emprunteur)"),
    "lost": N_("Perte"),
    "stolen": N_("Vol (référence du dépôt de plainte)"),
}


@get("/returns", opt={"roles": LENDING}, include_in_schema=False)
async def return_page() -> Template:
    return Template("checkin.html", context={"reasons": RETURN_REASONS, "form": {}})


@post("/returns", opt={"roles": LENDING}, include_in_schema=False, status_code=200)
async def return_submit(data: Form, principal: Principal) -> Template:
    """The check-in checklist; same service as POST /api/v1/loans/returns."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        loan = await returns.check_in(
            _text(form, "tag", 300),
            returns.ReturnIn(
                reason=_text(form, "reason", 10),
                charger=form.get("charger") == "on",
                bag=form.get("bag") == "on",
                damage=form.get("damage") == "on",
                damage_notes=_text(form, "damage_notes", 2000),
                police_report=_text(form, "police_report", 80),
                swap_tag=_text(form, "swap_tag", 300) or None,
            ),
            principal.actor,
        )
    except (DomainError, TagError) as refusal:
        context = {"reasons": RETURN_REASONS, "form": form, "error": str(refusal)}
        return Template("checkin.html", context=context, status_code=422)
    context = {"reasons": RETURN_REASONS, "form": {}, "done": loan}
    return Template("checkin.html", context=context)
