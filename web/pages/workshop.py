"""The workshop: repair queue, repairs outside any loan, device edits and retirement.

Each form is parsed into the command its service (or the API) already takes: RepairCloseIn for
closing a ticket, loans.workshop.WorkshopRepairIn and RetireIn, inventory.devices.DeviceEdit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from babel.dates import format_timedelta
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory import devices
from inventory.clock import now
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from inventory.lifecycle import WORKSHOP_REASONS
from inventory.states import (
    KIND_LABELS_FR,
    N_,
    RETIREMENT_LABELS_FR,
    DeviceKind,
    DeviceState,
    Grade,
    RetirementReason,
)
from inventory.tags import TagError
from loans import repairs, workshop
from web import i18n
from web.accounts import Principal
from web.forms import form_to, form_values
from web.roles import LENDING, WORKSHOP

Form = URLEncodedBody[dict[str, Any]]
Actor = NamedDependency[Principal]

OUTCOME_LABELS = {
    "repaired": N_("Réparé"),
    "swapped": N_("Échangé"),
    "not_repairable": N_("Non réparable"),
}
GRADE_LABELS = {
    Grade.a: N_("A (très bon état)"),
    Grade.b: N_("B (bon état)"),
    Grade.c: N_("C (usé)"),
    Grade.unknown: N_("Non évalué"),
}
RETIRE_REASONS = [r for r in RetirementReason if r in WORKSHOP_REASONS]
SCRAP_LABELS = {r: RETIREMENT_LABELS_FR[RetirementReason(r)] for r in repairs.SCRAP_REASONS}
# A refusal sentence starting with a field's name says which field is wrong.
FIELD_WORDS = {
    "Marque": "brand",
    "Modèle": "model",
    "Numéro de série": "serial",
    "Type d'appareil": "kind",
    "Grade": "grade",
    "Motif": "reason",
    "Destinataire": "recipient_code",
    "Prix": "price",
    "Remarque": "note",
    "Décrivez la panne": "fault",
    "Panne": "fault",
    "Actions": "actions",
    "Décrivez les actions": "actions",
    "Pièces": "parts",
    "Scannez": "swap_tag",
    "Un appareil prêté non réparable": "swap_tag",
    "L'appareil de remplacement": "swap_tag",
    "Issue": "outcome",
    "Un appareil non réparable": "retire_reason",
}


def _field(message: str) -> str | None:
    for words, field in FIELD_WORDS.items():
        if message.startswith(words):
            return field
    return None


def _since(moment: datetime) -> str:
    """How long ago, in words: « il y a 3 jours » / "3 days ago"."""
    locale = "fr_FR" if i18n.current_language.get() == "fr" else "en_GB"
    return format_timedelta(moment - now(), add_direction=True, threshold=1.5, locale=locale)


def _status(error: Exception) -> int:
    return 409 if isinstance(error, Conflict) else 422


# --- The repair queue -----------------------------------------------------------------------


async def _queue_context(form: dict[str, Any] | None = None, error: str | None = None) -> dict:
    tickets = await workshop.open_tickets()
    for ticket in tickets:
        ticket["since"] = _since(ticket["opened_at"])
    return {
        "tickets": tickets,
        "untracked": await workshop.in_repair_without_ticket(),
        "closed": await workshop.recent_closed(),
        "outcome_labels": OUTCOME_LABELS,
        "form": form or {},
        "error": error,
        "field": _field(error) if error else None,
    }


@get("/workshop", opt={"roles": WORKSHOP}, include_in_schema=False)
async def queue_page(tag: Annotated[str, QueryParameter(max_length=300)] = "") -> Template:
    """Open tickets, oldest first; a repair outside any loan is opened from here by tag."""
    return Template("workshop.html", context=await _queue_context({"tag": tag.strip()}))


@post("/workshop/repairs", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def open_repair(data: Form, principal: Actor) -> Redirect | Template:
    form = form_values(workshop.WorkshopRepairIn, data)
    try:
        command = form_to(workshop.WorkshopRepairIn, data)
        if not command.tag:
            raise Invalid("Étiquette : scannez ou saisissez l'étiquette de l'appareil.")
        ticket = await workshop.open_workshop_repair(command, principal.actor)
    except (DomainError, TagError) as error:
        message = str(error)
        context = await _queue_context(form, message)
        if context["field"] is None:
            context["field"] = "tag"
        return Template("workshop.html", context=context, status_code=_status(error))
    return Redirect(f"/workshop/tickets/{ticket}", status_code=303)


async def _ticket_context(
    ticket_id: int,
    principal: Principal,
    form: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    ticket = await workshop.ticket_detail(ticket_id)
    ticket["since"] = _since(ticket["opened_at"])
    return {
        "ticket": ticket,
        "device": ticket["device_row"],
        "can_open_loans": principal.role in LENDING,
        "outcome_labels": OUTCOME_LABELS,
        "scrap_labels": SCRAP_LABELS,
        "form": form or {"outcome": "repaired", "retire_reason": "parts"},
        "error": error,
        "field": _field(error) if error else None,
    }


@get("/workshop/tickets/{ticket_id:int}", opt={"roles": WORKSHOP}, include_in_schema=False)
async def ticket_page(ticket_id: FromPath[int], principal: Actor) -> Template:
    return Template("workshop_ticket.html", context=await _ticket_context(ticket_id, principal))


CLOSE_FIELDS = ("outcome", "actions", "parts", "swap_tag", "retire_reason")
CLOSE_REFUSALS = {
    "outcome": "Issue : choisissez réparé, échangé ou non réparable.",
    "actions": "Actions : décrivez ce qui a été fait (2000 caractères au plus).",
    "parts": "Pièces : 1000 caractères au plus.",
    "swap_tag": "L'appareil de remplacement : scannez son étiquette.",
    "retire_reason": "Un appareil non réparable part en pièces détachées ou au recyclage DEEE.",
}


@post(
    "/workshop/tickets/{ticket_id:int}/close",
    opt={"roles": WORKSHOP},
    include_in_schema=False,
    status_code=303,
)
async def close_ticket(
    ticket_id: FromPath[int], data: Form, principal: Actor
) -> Redirect | Template:
    """Same command as POST /api/v1/repairs/{id}/close; a repaired device on a loan goes back
    to its borrower."""
    form = {key: str(data.get(key) or "").strip() for key in CLOSE_FIELDS}
    try:
        given = {k: v for k, v in form.items() if v}
        if given.get("outcome") != "swapped" and given.get("outcome") != "not_repairable":
            given.pop("swap_tag", None)
        command = form_to(repairs.RepairCloseIn, given)
    except FieldInvalid as error:
        field = error.field if error.field in CLOSE_REFUSALS else "outcome"
        message = CLOSE_REFUSALS.get(field, CLOSE_REFUSALS["outcome"])
        context = await _ticket_context(ticket_id, principal, form, message)
        context["field"] = field
        return Template("workshop_ticket.html", context=context, status_code=422)
    try:
        await repairs.close(ticket_id, command, principal.actor)
    except (DomainError, TagError) as error:
        context = await _ticket_context(ticket_id, principal, form, str(error))
        return Template("workshop_ticket.html", context=context, status_code=_status(error))
    return Redirect(f"/workshop/tickets/{ticket_id}", status_code=303)


# --- Editing a device -----------------------------------------------------------------------


def _edit_context(
    device: dict[str, Any], form: dict[str, Any] | None = None, error: str | None = None
) -> dict[str, Any]:
    return {
        "device": device,
        "form": form or {f: device[f] for f in devices.EDITABLE} | {"version": device["version"]},
        "kinds": KIND_LABELS_FR,
        "grades": GRADE_LABELS,
        "error": error,
        "field": _field(error) if error else None,
    }


@get("/d/{tag:str}/edit", opt={"roles": WORKSHOP}, include_in_schema=False)
async def edit_page(tag: FromPath[str]) -> Template:
    device = await devices.get_device(tag)
    return Template("workshop_edit.html", context=_edit_context(device))


@post("/d/{tag:str}/edit", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def edit_submit(tag: FromPath[str], data: Form, principal: Actor) -> Redirect | Template:
    """Same service as any other edit: a form read at an older version is refused (409)."""
    device = await devices.get_device(tag)
    form = {f: str(data.get(f) or "").strip() for f in (*devices.EDITABLE, "version")}
    try:
        if not form["version"].isdigit():
            raise Conflict("Formulaire incomplet : rechargez la fiche de l'appareil.")
        # The same command as the API's, checked the same way (a grade it does not know, a
        # kind that is no device's, get their sentence).
        command = form_to(
            devices.DeviceEdit,
            {
                **form,
                "kind": form["kind"] or DeviceKind.laptop,
                "grade": form["grade"] or Grade.unknown,
            },
        )
        edited = await devices.edit_device(device["asset_tag"], command, principal.actor)
    except (DomainError, TagError) as error:
        fresh = await devices.get_device(tag)
        context = _edit_context(fresh, form, str(error))
        context["current"] = fresh if isinstance(error, Conflict) else None
        return Template("workshop_edit.html", context=context, status_code=_status(error))
    return Redirect(f"/d/{edited['asset_tag']}", status_code=303)


# --- Retiring a device ----------------------------------------------------------------------


def _retire_context(
    device: dict[str, Any], form: dict[str, Any] | None = None, error: str | None = None
) -> dict[str, Any]:
    return {
        "device": device,
        "retired": device["state"] == DeviceState.retired,
        "form": form or {"version": device["version"]},
        "reasons": {r.value: RETIREMENT_LABELS_FR[r] for r in RETIRE_REASONS},
        "error": error,
        "field": _field(error) if error else None,
    }


@get("/d/{tag:str}/retire", opt={"roles": WORKSHOP}, include_in_schema=False)
async def retire_page(tag: FromPath[str]) -> Template:
    device = await devices.get_device(tag)
    return Template("workshop_retire.html", context=_retire_context(device))


@post("/d/{tag:str}/retire", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def retire_submit(tag: FromPath[str], data: Form, principal: Actor) -> Redirect | Template:
    """For parts, recycling, a gift or a sale; the lifecycle's refusals come back in words."""
    device = await devices.get_device(tag)
    form = {
        k: str(data.get(k) or "").strip()
        for k in ("reason", "recipient_code", "price", "note", "version")
    }
    try:
        if not form["reason"]:
            raise Invalid("Motif : choisissez pourquoi l'appareil sort du parc.")
        command = workshop.RetireIn(
            reason=form["reason"],
            version=int(form["version"]) if form["version"].isdigit() else None,
            recipient_code=form["recipient_code"],
            price_cents=workshop.parse_euros(form["price"]),
            note=form["note"],
        )
        retired = await workshop.retire_device(device["asset_tag"], command, principal.actor)
    except (DomainError, TagError) as error:
        fresh = await devices.get_device(tag)
        context = _retire_context(fresh, form, str(error))
        context["retired"] = False
        return Template("workshop_retire.html", context=context, status_code=_status(error))
    return Redirect(f"/d/{retired['asset_tag']}", status_code=303)


ROUTES: list[Any] = [
    queue_page,
    open_repair,
    ticket_page,
    close_ticket,
    edit_page,
    edit_submit,
    retire_page,
    retire_submit,
]
