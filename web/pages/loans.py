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
from loans.tables import Borrower, MediationSession, Programme
from web.accounts import Principal
from web.api.loans import decode_image
from web.roles import LENDING

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ACCESSORIES = ["chargeur", "sacoche", "souris"]


async def _borrower_choices() -> list[dict[str, Any]]:
    rows = await Borrower.select().where(Borrower.anonymised_at.is_null()).order_by(Borrower.id)
    return [
        {"id": r["id"], "label": f"{await borrowers.display_name(r)} ({r['code']})"} for r in rows
    ]


async def _checkout_context(form: dict[str, Any] | None = None, error: str | None = None) -> dict:
    try:
        terms = await charter.in_force()
    except DomainError as refusal:
        terms, error = None, error or str(refusal)
    return {
        "borrowers": await _borrower_choices(),
        "programmes": await Programme.select(Programme.id, Programme.name)
        .where(Programme.archived_at.is_null())
        .order_by(Programme.name),
        "charter": terms,
        "charter_html": charter.to_html(terms["text"]) if terms else "",
        "accessories": ACCESSORIES,
        "signer_roles": checkout.SIGNER_ROLES,
        "form": form or {},
        "error": error,
    }


@get("/loans/new", opt={"roles": LENDING}, include_in_schema=False)
async def checkout_page() -> Template:
    return Template("checkout.html", context=await _checkout_context())


def _text(form: dict[str, Any], key: str, limit: int = 200) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _new_borrower(form: dict[str, Any]) -> borrowers.BorrowerIn | None:
    """The household typed on the form, created with the loan (never before it)."""
    if not _text(form, "new_full_name"):
        return None
    children = _text(form, "new_children", 2)
    if children and not children.isdigit():
        raise Invalid("Le nombre d'enfants est un nombre entier, de 0 à 30.")
    return borrowers.BorrowerIn(
        full_name=_text(form, "new_full_name"),
        phone=_text(form, "new_phone", 40),
        email=_text(form, "new_email"),
        commune=_text(form, "new_commune", 120),
        qpv_resident=form.get("new_qpv") == "on",
        children_count=int(children or 0),
        is_minor=form.get("new_minor") == "on",
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
        new_borrower = _new_borrower(form)
        borrower = _text(form, "borrower_id")
        accessories = [a for a in ACCESSORIES if data.get(f"acc_{a}") == "on"]
        if _text(form, "accessory_other"):
            accessories.append(_text(form, "accessory_other", 100))
        programme = _text(form, "programme_id")
        request = checkout.CheckoutIn(
            borrower_id=int(borrower) if borrower.isdigit() and new_borrower is None else None,
            new_borrower=new_borrower,
            tags=[t for t in _text(form, "tags", 5000).split() if t],
            programme_id=int(programme) if programme.isdigit() else None,
            accessories=accessories,
            condition_out=_text(form, "condition_out", 2000),
            due_on=_due_on(form),
        )
        loan = await checkout.checkout(request, await _signature(data), principal.actor)
    except (DomainError, TagError) as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        context = await _checkout_context(form, str(refusal))
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


@get("/agenda", opt={"roles": LENDING}, include_in_schema=False)
async def agenda_page(
    principal: Principal,
    mediator: Annotated[str | None, Parameter(max_length=120)] = None,
) -> Template:
    """A mediator's sessions (their own by default; `?mediator=` for all: empty)."""
    who = principal.actor if mediator is None else mediator.strip()
    sessions = await mediation.agenda(date.today(), who or None, days=60)
    return Template(
        "agenda.html",
        context={"sessions": sessions, "mediator": who, "today": date.today()},
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


def _session_context(session: dict[str, Any], form: dict[str, Any], error: str | None) -> dict:
    return {
        "session": session,
        "themes": mediation.THEMES,
        "places": mediation.PLACE_TYPES,
        "autonomy": mediation.AUTONOMY,
        "statuses": {k: v for k, v in mediation.STATUSES.items() if k != "planned"},
        "form": form,
        "error": error,
        "today": date.today().isoformat(),
    }


@get("/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def session_page(session_id: int) -> Template:
    session = await mediation.get_session(session_id)
    return Template("session.html", context=_session_context(session, {}, None))


@post(
    "/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False, status_code=303
)
async def session_submit(session_id: int, data: Form, principal: Principal) -> Redirect | Template:
    """Record a session (done, missed, cancelled); same service as the API."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    themes = [key for key in mediation.THEMES if data.get(f"theme_{key}") == "on"]
    try:
        held = _text(form, "held_on", 10)
        duration = _text(form, "duration_minutes", 4)
        record = mediation.SessionRecord(
            status=_text(form, "status", 10),
            held_on=date.fromisoformat(held) if held else None,
            mediator=principal.actor,
            place_type=_text(form, "place_type", 30),
            duration_minutes=int(duration) if duration.isdigit() else 0,
            themes=themes,
            autonomy=_text(form, "autonomy", 30),
            notes=_text(form, "notes", 1000),
        )
        await mediation.record_session(session_id, record, principal.actor)
    except ValueError:
        session = await mediation.get_session(session_id)
        context = _session_context(session, form, "Date de séance invalide.")
        return Template("session.html", context=context, status_code=422)
    except DomainError as refusal:
        session = await mediation.get_session(session_id)
        context = _session_context(session, form, str(refusal))
        return Template("session.html", context=context, status_code=422)
    return Redirect("/agenda", status_code=303)
