"""Borrowers' list, card, edit, export and erasure.

Lending roles may see a borrower's contact (they call families about their loan and sessions):
the list searches by code and by name or phone, the card shows who to call.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.commands import build
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from inventory.states import N_
from loans import borrowers, privacy, queries
from loans.tables import (
    Borrower,
    BorrowerContact,
    Loan,
    MediationSession,
    Organisation,
    SessionAttendee,
)
from web.accounts import Principal
from web.pages.organisations import (
    commune_label,
    refusal_context,
    resolve_commune,
    text,
)
from web.roles import LENDING, MANAGERS

Form = URLEncodedBody[dict[str, Any]]
Actor = NamedDependency[Principal]
LIST_LIMIT = 200
ERASURE_SENTENCE = N_(
    "Effacé : le nom, les coordonnées (téléphone, courriel, adresse), le représentant légal, le "
    "référent, les noms des signataires, les notes des séances et les chartes signées. Gardé, sans "
    "rien qui nomme la personne : le code %(code)s, la commune, le code INSEE, le quartier "
    "prioritaire, le nombre d'enfants et l'école (pour les chiffres agrégés des financeurs), les "
    "prêts (dates, appareils, version de la charte), les retours, les réparations, les séances "
    "(dates, durées, thèmes) et l'historique."
)


def _fold(value: str) -> str:
    value = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in value if not unicodedata.combining(c)).lower()


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def parse_borrower(
    form: dict[str, Any], prefix: str = "", *, kind: str = "household"
) -> borrowers.BorrowerIn:
    """A household typed on a form, as the API's command (same struct as POST /api/v1/borrowers),
    the commune resolved by name to its INSEE code."""
    school = text(form, f"{prefix}school_id", 12)
    commune, insee = resolve_commune(form, f"{prefix}commune")
    raw = {
        "kind": kind,
        "full_name": text(form, f"{prefix}full_name", 400),
        "email": text(form, f"{prefix}email", 400),
        "phone": text(form, f"{prefix}phone", 80),
        "address": text(form, f"{prefix}address", 1000),
        "guardian_name": text(form, f"{prefix}guardian_name", 400),
        "referent": text(form, f"{prefix}referent", 400),
        "commune": commune,
        "insee_code": insee,
        "qpv_resident": form.get(f"{prefix}qpv_resident") == "on",
        "children_count": text(form, f"{prefix}children_count", 3) or 0,
        "school_id": int(school) if school.isdigit() else None,
        "is_minor": form.get(f"{prefix}is_minor") == "on",
    }
    try:
        values = build(borrowers.BorrowerIn, raw, strict=False)
    except FieldInvalid as wrong:
        raise FieldInvalid(f"{prefix}{wrong.field}", str(wrong)) from None
    if not values.full_name and kind == "household":
        raise FieldInvalid(f"{prefix}full_name", "Nom et prénom : champ obligatoire.")
    if values.is_minor and not values.guardian_name:  # the service's rule, said on its field
        raise FieldInvalid(
            f"{prefix}guardian_name",
            "Représentant légal : obligatoire pour un emprunteur mineur (c'est lui qui signe).",
        )
    return values


def borrower_refusal(refusal: DomainError) -> dict[str, Any]:
    return refusal_context(refusal)


async def schools() -> list[dict[str, Any]]:
    return await (
        Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.archived_at.is_null() & Organisation.kind.is_in(["school", "college"]))
        .order_by(Organisation.name)
    )


@get("/borrowers", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_list(
    q: Annotated[str, QueryParameter(max_length=200)] = "",
) -> Template:
    """Borrowers by code, name (the person's or the organisation's) or phone."""
    rows = await Borrower.select().order_by(Borrower.id, ascending=False)
    contacts = {c["borrower"]: c for c in await BorrowerContact.select()}
    organisations = {o["id"]: o for o in await Organisation.select()}
    open_loans: dict[int, int] = {}
    for loan in await Loan.select(Loan.borrower).where(Loan.status == "open"):
        open_loans[loan["borrower"]] = open_loans.get(loan["borrower"], 0) + 1
    wanted, digits = _fold(q.strip()), _digits(q)
    code = re.sub(r"[^A-Z0-9]", "", q.upper())
    found = []
    for row in rows:
        contact = contacts.get(row["id"], {})
        organisation = organisations.get(row["organisation"]) if row["organisation"] else None
        name = organisation["name"] if organisation else contact.get("full_name", "")
        if wanted:
            words = _fold(" ".join([name, contact.get("guardian_name", "")]))
            by_code = len(code) >= 3 and code in row["code"].replace("-", "")
            by_phone = len(digits) >= 4 and digits in _digits(contact.get("phone", ""))
            if not (by_code or by_phone or all(w in words for w in wanted.split())):
                continue
        found.append(
            {
                **row,
                "name": name,
                "phone": contact.get("phone", ""),
                "commune_label": commune_label(row["commune"], row["insee_code"]),
                "open_loans": open_loans.get(row["id"], 0),
            }
        )
    return Template(
        "borrowers.html",
        context={"borrowers": found[:LIST_LIMIT], "total": len(found), "q": q, "limit": LIST_LIMIT},
    )


def _form_context(form: dict[str, Any], school_rows: list[dict[str, Any]], **extra: Any) -> dict:
    return {"form": form, "schools": school_rows, "commune_choices": {}, **extra}


@get("/borrowers/new", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_new() -> Template:
    return Template("borrower_form.html", context=_form_context({}, await schools()))


@post("/borrowers/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def borrower_create(data: Form) -> Redirect | Template:
    """A new household (its code drawn here); same service as POST /api/v1/borrowers."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        row = await borrowers.create_borrower(parse_borrower(form))
    except DomainError as refusal:
        context = _form_context(form, await schools(), **borrower_refusal(refusal))
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("borrower_form.html", context=context, status_code=status)
    return Redirect(f"/borrowers/{row['id']}", status_code=303)


async def _card_context(borrower_id: int, **extra: Any) -> dict[str, Any]:
    borrower = await borrowers.get_borrower(borrower_id)
    contact = await borrowers.get_contact(borrower_id)
    organisation = school = None
    if borrower["organisation"]:
        organisation = await borrowers.get_organisation(borrower["organisation"])
    if borrower["school"]:
        school = await borrowers.get_organisation(borrower["school"])
    loans, _ = await queries.list_loans(borrower_id=borrower_id, limit=500)
    for loan in loans:
        detail = await queries.loan_detail(loan["id"])
        loan["signature"], loan["devices"] = detail["signature"], detail["devices"]
    attended = [
        a["session"]
        for a in await SessionAttendee.select(SessionAttendee.session).where(
            SessionAttendee.borrower == borrower_id
        )
    ]
    where = MediationSession.borrower == borrower_id
    if attended:
        where = where | MediationSession.id.is_in(attended)
    sessions = await (
        MediationSession.select()
        .where(where)
        .order_by(MediationSession.planned_on, ascending=False)
        .output(load_json=True)
    )
    phone = (contact or {}).get("phone", "")
    return {
        "borrower": borrower,
        "contact": contact,
        "tel": re.sub(r"[^0-9+]", "", phone),
        "organisation": organisation,
        "school": school,
        "commune": commune_label(borrower["commune"], borrower["insee_code"]),
        "loans": loans,
        "sessions": sessions,
        "erasure_sentence": ERASURE_SENTENCE,
        **extra,
    }


@get("/borrowers/{borrower_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_card(borrower_id: FromPath[int], principal: Actor) -> Template:
    context = await _card_context(borrower_id, may_erase=principal.role in MANAGERS)
    return Template("borrower.html", context=context)


@get("/borrowers/{borrower_id:int}/edit", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_edit(borrower_id: FromPath[int]) -> Template | Redirect:
    borrower = await borrowers.get_borrower(borrower_id)
    if borrower["anonymised_at"] is not None:
        return Redirect(f"/borrowers/{borrower_id}", status_code=303)
    contact = await borrowers.get_contact(borrower_id) or {}
    form = {k: contact.get(k, "") for k in borrowers.CONTACT_FIELDS}
    form.update(
        commune=commune_label(borrower["commune"], borrower["insee_code"]),
        commune_insee=borrower["insee_code"],
        qpv_resident="on" if borrower["qpv_resident"] else "",
        is_minor="on" if borrower["is_minor"] else "",
        children_count=str(borrower["children_count"]),
        school_id=str(borrower["school"] or ""),
    )
    context = _form_context(form, await schools(), borrower=borrower)
    return Template("borrower_form.html", context=context)


@post(
    "/borrowers/{borrower_id:int}/edit",
    opt={"roles": LENDING},
    include_in_schema=False,
    status_code=303,
)
async def borrower_update(
    borrower_id: FromPath[int], data: Form, principal: Actor
) -> Redirect | Template:
    """Correct the contact and attributes; written with the event `borrower_updated`."""
    borrower = await borrowers.get_borrower(borrower_id)
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        values = parse_borrower(form, kind=borrower["kind"])
        await borrowers.update_borrower(borrower_id, values, principal.actor)
    except DomainError as refusal:
        context = _form_context(form, await schools(), borrower=borrower)
        context.update(borrower_refusal(refusal))
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("borrower_form.html", context=context, status_code=status)
    return Redirect(f"/borrowers/{borrower_id}", status_code=303)


@get("/borrowers/{borrower_id:int}/export.json", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_export_json(borrower_id: FromPath[int]) -> Response[bytes]:
    """Everything held about the borrower (right of access), as a file to hand over."""
    data = await privacy.export(borrower_id)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    code = data["borrower"]["code"]
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="donnees-{code}.json"'},
    )


@get("/borrowers/{borrower_id:int}/export.pdf", opt={"roles": LENDING}, include_in_schema=False)
async def borrower_export_pdf(borrower_id: FromPath[int]) -> Response[bytes]:
    borrower = await borrowers.get_borrower(borrower_id)
    return Response(
        await privacy.export_pdf(borrower_id),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="donnees-{borrower["code"]}.pdf"'},
    )


@post(
    "/borrowers/{borrower_id:int}/erase",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=200,
)
async def borrower_erase(borrower_id: FromPath[int], data: Form, principal: Actor) -> Template:
    """Erase the personal data (RGPD article 17); the card then says what was kept."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        if form.get("confirm") != "on":
            raise Invalid("Cochez la case pour confirmer l'effacement : il est définitif.")
        await privacy.erase(borrower_id, principal.actor)
    except DomainError as refusal:
        status = 409 if isinstance(refusal, Conflict) else 422
        context = await _card_context(borrower_id, may_erase=True, error=str(refusal))
        return Template("borrower.html", context=context, status_code=status)
    context = await _card_context(borrower_id, may_erase=True, erased_now=True)
    return Template("borrower.html", context=context)


ROUTES: list[Any] = [
    borrower_list,
    borrower_new,
    borrower_create,
    borrower_card,
    borrower_edit,
    borrower_update,
    borrower_export_json,
    borrower_export_pdf,
    borrower_erase,
]
