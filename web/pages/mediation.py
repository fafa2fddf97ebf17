"""Mediation pages: agenda, recording and correcting sessions, unplanned sessions, workshops.

Every form is parsed into `loans.mediation.SessionRecord`, the struct the service and the API
use, with msgspec; the page only adds which field a refusal names.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError, Invalid
from loans import mediation
from loans.tables import Borrower, MediationSession
from web.accounts import Principal
from web.roles import LENDING, Role
from web.tables import StaffRole

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ALL = "*"
# Which form field a service's refusal is about, from the words of its sentence.
FIELD_WORDS = (
    ("Statut", "status"),
    ("date", "held_on"),
    ("Type de lieu", "place_type"),
    ("durée", "duration_minutes"),
    ("thématique", "themes"),
    ("Thématique", "themes"),
    ("autonomie", "autonomy"),
    ("notes", "notes"),
    ("présent", "attended"),
    ("atelier", "attended"),
    ("prêt", "loan"),
    ("Prêt", "loan"),
    ("Emprunteur", "borrower"),
    ("emprunteur", "borrower"),
)


class FormError(Exception):
    """A refused form: the sentence and the field it names."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _field_of(message: str) -> str | None:
    for words, name in FIELD_WORDS:
        if words in message:
            return name
    return None


def _strings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def _record(form: dict[str, Any], data: dict[str, Any], actor: str) -> mediation.SessionRecord:
    """The form as the service's struct; a value of the wrong type names its field. `actor`
    is who held the session ("" keeps the session's mediator, as a correction does)."""
    raw: dict[str, Any] = {
        "status": form.get("status", "")[:10],
        "mediator": actor,
        "place_type": form.get("place_type", "")[:30],
        "themes": [key for key in mediation.THEMES if data.get(f"theme_{key}") == "on"],
        "autonomy": form.get("autonomy", "")[:30],
        "notes": form.get("notes", "")[:1000],
        "attended": _attended_ids(data),
    }
    if form.get("held_on"):
        raw["held_on"] = form["held_on"][:10]
    if form.get("duration_minutes"):
        raw["duration_minutes"] = form["duration_minutes"][:6]
    if raw["status"] != "done":
        raw.update(place_type="", themes=[], autonomy="", duration_minutes=0, held_on=None)
    try:
        return msgspec.convert(raw, mediation.SessionRecord, strict=False)
    except msgspec.ValidationError as refusal:
        field = str(refusal).rsplit("$.", 1)[-1].split("[")[0] if "$." in str(refusal) else None
        words = {
            "held_on": "La date de la séance n'est pas une date valide.",
            "duration_minutes": "La durée s'écrit en minutes, par un nombre entier.",
        }
        raise FormError(
            words.get(field or "", "Un champ du formulaire est invalide."), field
        ) from None


def _status(error: Exception) -> int:
    return 409 if isinstance(error, Conflict) else 422


def _refusal(error: Exception) -> tuple[str, str | None]:
    if isinstance(error, FormError):
        return str(error), error.field
    return str(error), _field_of(str(error))


async def _names(ids: list[int]) -> dict[int, str]:
    from loans import borrowers

    rows = await Borrower.select().where(Borrower.id.is_in(ids)) if ids else []
    return {r["id"]: f"{await borrowers.display_name(r)} ({r['code']})" for r in rows}


def _record_form(session: dict[str, Any]) -> dict[str, Any]:
    """A recorded session's values, as its correction form starts."""
    return {
        "status": session["status"],
        "held_on": session["held_on"].isoformat() if session["held_on"] else "",
        "place_type": session["place_type"],
        "duration_minutes": str(session["duration_minutes"] or ""),
        "themes": list(session["themes"] or []),
        "autonomy": session["autonomy"],
        "notes": session["notes"],
    }


def _form_themes(data: dict[str, Any]) -> list[str]:
    return [key for key in mediation.THEMES if data.get(f"theme_{key}") == "on"]


async def _session_context(
    session_id: int,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    field: str | None = None,
    attended: list[int] | None = None,
) -> dict[str, Any]:
    session = await mediation.get_session(session_id)
    history = await mediation.session_history(session_id)
    borrower = None
    if session["borrower"]:
        borrower = (await _names([session["borrower"]])).get(session["borrower"])
    participants = await _names(session["attendees"])
    recorded = session["status"] != "planned" and not session["cancel_reason"]
    if form is None:
        form = _record_form(session) if recorded else {}
    if attended is None:
        attended = history["attended"] if recorded else session["attendees"]
    recordable = session["status"] == "planned" or (
        session["status"] == "cancelled"
        and session["cancel_reason"].startswith(mediation.CLOSED_LOAN)
    )
    return {
        "session": session,
        "recordable": recordable,
        "borrower": borrower,
        "participants": participants,
        "attended": attended,
        "history": history["events"],
        "themes": mediation.THEMES,
        "places": mediation.PLACE_TYPES,
        "autonomy": mediation.AUTONOMY,
        "statuses": {k: v for k, v in mediation.STATUSES.items() if k != "planned"},
        "form": form,
        "error": error,
        "field": field,
        "today": date.today().isoformat(),
    }


@get("/agenda", opt={"roles": LENDING}, include_in_schema=False)
async def agenda_page(
    principal: Principal,
    mediator: Annotated[str | None, Parameter(max_length=120)] = None,
) -> Template:
    """Planned sessions: a mediator's own by default, every mediator's for coordinators
    (`?mediator=*` for all, `?mediator=name` for one), and the sessions recorded lately."""
    if mediator is None:
        chosen = principal.actor if principal.role == Role.mediator else ALL
    else:
        chosen = mediator.strip() or ALL
    who = None if chosen == ALL else chosen
    sessions = await mediation.agenda(date.today(), who, days=60)
    names = await MediationSession.select(MediationSession.mediator).distinct()
    accounts = await StaffRole.select(StaffRole.user.username.as_alias("name")).where(
        StaffRole.role == Role.mediator, StaffRole.user.active.eq(True)
    )
    mediators = sorted(
        {r["mediator"] for r in names if r["mediator"]}
        | {r["name"] for r in accounts}
        | {principal.actor}
    )
    recent = await mediation.recent(who, days=60)
    return Template(
        "agenda.html",
        context={
            "sessions": sessions,
            "recent": recent,
            "mediator": chosen,
            "mediators": mediators,
            "all": ALL,
            "today": date.today(),
        },
    )


@get("/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def session_page(
    session_id: int, corrected: Annotated[int | None, Parameter(ge=0, le=1)] = None
) -> Template:
    """A session: the record form while planned; then what was recorded, its correction
    form and its history."""
    context = await _session_context(session_id)
    context["corrected"] = bool(corrected)
    return Template("session.html", context=context)


@post(
    "/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False, status_code=303
)
async def session_submit(session_id: int, data: Form, principal: Principal) -> Redirect | Template:
    """Record a planned session (done, missed, cancelled); same service as the API."""
    form = _strings(data)
    try:
        record = _record(form, data, principal.actor)
        await mediation.record_session(session_id, record, principal.actor)
    except (DomainError, FormError) as refusal:
        message, field = _refusal(refusal)
        form["themes"] = _form_themes(data)
        context = await _session_context(
            session_id, form, message, field, attended=_attended_ids(data)
        )
        return Template("session.html", context=context, status_code=_status(refusal))
    return Redirect(f"/sessions/{session_id}", status_code=303)


def _attended_ids(data: dict[str, Any]) -> list[int]:
    return [
        int(k.removeprefix("attended_"))
        for k, v in data.items()
        if k.startswith("attended_") and k.removeprefix("attended_").isdigit() and v == "on"
    ]


@post(
    "/sessions/{session_id:int}/correct",
    opt={"roles": LENDING},
    include_in_schema=False,
    status_code=303,
)
async def session_correct(session_id: int, data: Form, principal: Principal) -> Redirect | Template:
    """Correct a recorded session: a new `session_corrected` event, the history shows both."""
    form = _strings(data)
    try:
        record = _record(form, data, "")
        await mediation.correct_session(session_id, record, principal.actor)
    except (DomainError, FormError) as refusal:
        message, field = _refusal(refusal)
        form["themes"] = _form_themes(data)
        context = await _session_context(
            session_id, form, message, field, attended=_attended_ids(data)
        )
        return Template("session.html", context=context, status_code=_status(refusal))
    return Redirect(f"/sessions/{session_id}?corrected=1", status_code=303)


def _new_context(
    form: dict[str, Any], error: str | None = None, field: str | None = None
) -> dict[str, Any]:
    return {
        "themes": mediation.THEMES,
        "places": mediation.PLACE_TYPES,
        "autonomy": mediation.AUTONOMY,
        "statuses": {k: v for k, v in mediation.STATUSES.items() if k != "planned"},
        "form": form,
        "error": error,
        "field": field,
        "today": date.today().isoformat(),
    }


@get("/sessions/new", opt={"roles": LENDING}, include_in_schema=False)
async def new_session_page(
    borrower: Annotated[str | None, Parameter(max_length=20)] = None,
    loan: Annotated[int | None, Parameter(ge=1)] = None,
) -> Template:
    """A session nobody planned (someone came by), for a borrower, optionally a loan."""
    form = {"borrower": borrower or "", "loan": str(loan or ""), "status": "done"}
    return Template("session_new.html", context=_new_context(form))


@post("/sessions/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def new_session_submit(data: Form, principal: Principal) -> Redirect | Template:
    form = _strings(data)
    form["themes"] = _form_themes(data)
    try:
        code = form.get("borrower", "")
        if not code:
            raise FormError("Indiquez le code de l'emprunteur (B-XXXXXX).", "borrower")
        try:
            (borrower_id,) = await mediation.borrower_ids_by_code([code[:20]])
        except Invalid as unknown:
            raise FormError(str(unknown), "borrower") from None
        loan_text = form.get("loan", "").removeprefix("n°").strip()
        if loan_text and not loan_text.isdigit():
            raise FormError("Le numéro de prêt s'écrit en chiffres.", "loan")
        record = _record(form, data, principal.actor)
        session = await mediation.add_session(
            borrower_id,
            int(loan_text) if loan_text else None,
            form.get("label", "")[:120],
            record,
            principal.actor,
        )
    except (DomainError, FormError) as refusal:
        message, field = _refusal(refusal)
        context = _new_context(form, message, field)
        return Template("session_new.html", context=context, status_code=_status(refusal))
    return Redirect(f"/sessions/{session['id']}", status_code=303)


@get("/workshops/new", opt={"roles": LENDING}, include_in_schema=False)
async def new_workshop_page() -> Template:
    """A collective workshop: date, label, participants by their borrower codes."""
    form = {"planned_on": date.today().isoformat()}
    return Template("mediation_workshop.html", context={"form": form})


@post("/workshops/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def new_workshop_submit(data: Form, principal: Principal) -> Redirect | Template:
    form = _strings(data)
    try:
        try:
            planned_on = date.fromisoformat(form.get("planned_on", "")[:10])
        except ValueError:
            raise FormError("Indiquez la date de l'atelier.", "planned_on") from None
        label = form.get("label", "")[:120]
        if not label:
            raise FormError("Donnez un intitulé à l'atelier.", "label")
        codes = form.get("participants", "").replace(",", " ").replace(";", " ").split()
        try:
            ids = await mediation.borrower_ids_by_code(codes[:100])
        except Invalid as unknown:
            raise FormError(str(unknown), "participants") from None
        session = await mediation.create_workshop(
            planned_on, principal.actor, label, ids, principal.actor
        )
    except (DomainError, FormError) as refusal:
        message, field = _refusal(refusal)
        context = {"form": form, "error": message, "field": field or "participants"}
        return Template("mediation_workshop.html", context=context, status_code=_status(refusal))
    return Redirect(f"/sessions/{session['id']}", status_code=303)


ROUTES: list[Any] = [
    agenda_page,
    new_session_page,
    new_session_submit,
    session_page,
    session_submit,
    session_correct,
    new_workshop_page,
    new_workshop_submit,
]
