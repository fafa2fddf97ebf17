"""Mediation pages: agenda, recording and correcting sessions, unplanned sessions, workshops.

Every form becomes the operation's command with `web.forms.form_to` — `SessionRecord`,
`UnplannedSessionIn`, `WorkshopIn` from `loans.mediation`, the structs the API decodes — and goes
to the same service as the API; a refusal names its field for the form to show.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.errors import DomainError, Invalid
from loans import activities_export, borrowers, coop, mediation, session_reads
from loans.tables import Borrower, MediationSession
from web.accounts import Principal
from web.forms import form_to, form_values
from web.pages.organisations import commune_label, refusal_context, resolve_commune, text
from web.roles import LENDING, Role
from web.tables import StaffRole

Form = URLEncodedBody[dict[str, Any]]
ALL = "*"


def _shown(command: type[mediation.SessionRecord], data: dict[str, Any]) -> dict[str, Any]:
    """What was typed, as the form shows it again after a refusal."""
    form = form_values(command, data)
    form["attended"] = _ids(form.get("attended", []))
    return form


def _ids(values: list[Any]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def _refusal(error: DomainError) -> tuple[str, str | None]:
    field = getattr(error, "field", None)
    return str(error), "commune" if field == "commune_insee" else field


async def _names(ids: list[int]) -> dict[int, str]:
    rows = await Borrower.select().where(Borrower.id.is_in(ids)) if ids else []
    return {r["id"]: f"{await borrowers.display_name(r)} ({r['code']})" for r in rows}


def _record_form(session: dict[str, Any]) -> dict[str, Any]:
    """A recorded session's values, as its correction form starts."""
    return {
        "status": session["status"],
        "held_on": session["held_on"].isoformat() if session["held_on"] else "",
        "place_type": session["place_type"],
        "commune": commune_label("", session["commune_insee"]),
        "commune_insee": session["commune_insee"],
        "duration_minutes": str(session["duration_minutes"] or ""),
        "themes": list(session["themes"] or []),
        "admin_themes": list(session["admin_themes"] or []),
        "demarche": session["demarche"],
        "materiel": list(session["materiel"] or []),
        "autonomy": session["autonomy"],
        "redirection": session["redirection"],
        "redirection_note": session["redirection_note"],
        "age_band": session["age_band"],
        "gender": session["gender"],
        "social_status": session["social_status"],
        "level": session["level"],
        "participants": str(session["participants"] or ""),
        "notes": session["notes"],
    }


def _vocabularies() -> dict[str, Any]:
    """The forms' choices: the Coop de la médiation numérique's codes and labels."""
    return {
        "themes": coop.THEMES,
        "admin_themes": coop.ADMIN_THEMES,
        "places": coop.PLACE_TYPES,
        "autonomy": coop.AUTONOMY,
        "materiel": coop.MATERIEL,
        "redirections": coop.REDIRECTIONS,
        "levels": coop.LEVELS,
        "age_bands": coop.AGE_BANDS,
        "genders": coop.GENDERS,
        "social_statuses": coop.SOCIAL_STATUSES,
        "activity_types": coop.TYPE_ACTIVITE,
        "field_labels": mediation.SessionRecord.field_labels,
        "statuses": mediation.OUTCOMES,
        "commune_choices": {},
        "today": date.today().isoformat(),
    }


def _choices(refusal: DomainError) -> dict[str, Any]:
    """The communes to choose from when the typed name is shared by several."""
    return refusal_context(refusal).get("commune_choices", {})


def _with_commune(data: dict[str, Any]) -> dict[str, Any]:
    """The form with the commune typed by name resolved to its INSEE code (the command's)."""
    _, insee = resolve_commune(data, "commune")
    return {**data, "commune_insee": insee}


def _shown_with_commune(command: type[mediation.SessionRecord], data: dict[str, Any]) -> dict:
    form = _shown(command, data)
    form["commune"] = text(data, "commune", 160)
    form["commune_insee"] = text(data, "commune_insee", 5)
    return form


async def _session_context(
    session_id: int,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    field: str | None = None,
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
        attended = history["attended"] if recorded else session["attendees"]
    else:
        attended = form.get("attended", [])
    recordable = session["status"] == "planned" or (
        session["status"] == "cancelled"
        and session["cancel_reason"].startswith(mediation.CLOSED_LOAN)
    )
    return {
        "session": session,
        "activity_type": session_reads.activity_type(session),
        "commune": commune_label("", session["commune_insee"]) if session["commune_insee"] else "",
        "recordable": recordable,
        "borrower": borrower,
        "participants": participants,
        "attended": attended,
        "history": history["events"],
        "form": form,
        "error": error,
        "field": field,
        **_vocabularies(),
    }


async def _agenda_context(principal: Principal, mediator: str | None) -> dict[str, Any]:
    if mediator is None:
        chosen = principal.actor if principal.role == Role.mediator else ALL
    else:
        chosen = mediator.strip() or ALL
    who = None if chosen == ALL else chosen
    sessions = await mediation.agenda(date.today(), who, days=60)
    names = await MediationSession.select(MediationSession.mediator).distinct()
    accounts = await StaffRole.select(StaffRole.user._.username.as_alias("name")).where(
        StaffRole.role == Role.mediator, StaffRole.user._.active.eq(True)
    )
    mediators = sorted(
        {r["mediator"] for r in names if r["mediator"]}
        | {r["name"] for r in accounts}
        | {principal.actor}
    )
    recent = await mediation.recent(who, days=60)
    today = date.today()
    return {
        "sessions": sessions,
        "recent": recent,
        "mediator": chosen,
        "mediators": mediators,
        "all": ALL,
        "today": today,
        "export_from": today.replace(day=1).isoformat(),
        "export_to": today.isoformat(),
    }


@get("/agenda", opt={"roles": LENDING}, include_in_schema=False)
async def agenda_page(
    principal: NamedDependency[Principal],
    mediator: Annotated[str | None, QueryParameter(max_length=120)] = None,
) -> Template:
    """Planned sessions: a mediator's own by default, every mediator's for coordinators
    (`?mediator=*` for all, `?mediator=name` for one), and the sessions recorded lately."""
    return Template("agenda.html", context=await _agenda_context(principal, mediator))


@get("/agenda/activities", opt={"roles": LENDING}, include_in_schema=False)
async def activities_download(
    principal: NamedDependency[Principal],
    start: Annotated[str, QueryParameter(name="from", max_length=10)] = "",
    end: Annotated[str, QueryParameter(name="to", max_length=10)] = "",
    fmt: Annotated[str, QueryParameter(name="format", max_length=4)] = "xlsx",
) -> Response[bytes] | Template:
    """The period's activities as the Coop's export (XLSX or CSV), the API's same file."""
    try:
        export = await activities_export.activities(_day(start, "Du"), _day(end, "Au"))
        content = activities_export.render(export, fmt)
    except DomainError as refusal:
        context = await _agenda_context(principal, None)
        context.update(export_error=str(refusal), export_from=start, export_to=end)
        return Template("agenda.html", context=context, status_code=refusal.status_code)
    name = activities_export.filename(export, fmt)
    return Response(
        content,
        media_type=activities_export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _day(value: str, label: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{label} : une date (AAAA-MM-JJ).") from None


@get("/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False)
async def session_page(
    session_id: FromPath[int],
    corrected: Annotated[int | None, QueryParameter(ge=0, le=1)] = None,
) -> Template:
    """A session: the record form while planned; then what was recorded, its correction
    form and its history."""
    context = await _session_context(session_id)
    context["corrected"] = bool(corrected)
    return Template("session.html", context=context)


@post(
    "/sessions/{session_id:int}", opt={"roles": LENDING}, include_in_schema=False, status_code=303
)
async def session_submit(
    session_id: FromPath[int], data: Form, principal: NamedDependency[Principal]
) -> Redirect | Template:
    """Record a planned session (done, missed, cancelled); same command and service as the API."""
    try:
        record = form_to(mediation.SessionRecord, _with_commune(data))
        await mediation.record_session(session_id, record, principal.actor)
    except DomainError as refusal:
        message, field = _refusal(refusal)
        form = _shown_with_commune(mediation.SessionRecord, data)
        context = await _session_context(session_id, form, message, field)
        context["commune_choices"] = _choices(refusal)
        return Template("session.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/sessions/{session_id}", status_code=303)


@post(
    "/sessions/{session_id:int}/correct",
    opt={"roles": LENDING},
    include_in_schema=False,
    status_code=303,
)
async def session_correct(
    session_id: FromPath[int], data: Form, principal: NamedDependency[Principal]
) -> Redirect | Template:
    """Correct a recorded session: a new `session_corrected` event, the history shows both."""
    try:
        record = form_to(mediation.SessionRecord, _with_commune(data))
        await mediation.correct_session(session_id, record, principal.actor)
    except DomainError as refusal:
        message, field = _refusal(refusal)
        form = _shown_with_commune(mediation.SessionRecord, data)
        context = await _session_context(session_id, form, message, field)
        context["commune_choices"] = _choices(refusal)
        return Template("session.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/sessions/{session_id}?corrected=1", status_code=303)


def _new_context(
    form: dict[str, Any], error: str | None = None, field: str | None = None
) -> dict[str, Any]:
    return {"form": form, "error": error, "field": field, **_vocabularies()}


@get("/sessions/new", opt={"roles": LENDING}, include_in_schema=False)
async def new_session_page(
    borrower: Annotated[str | None, QueryParameter(max_length=20)] = None,
    loan: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Template:
    """A session nobody planned (someone came by), for a borrower, optionally a loan."""
    form = {"borrower": borrower or "", "loan": str(loan or ""), "status": "done"}
    return Template("session_new.html", context=_new_context(form))


@post("/sessions/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def new_session_submit(
    data: Form, principal: NamedDependency[Principal]
) -> Redirect | Template:
    try:
        command = form_to(mediation.UnplannedSessionIn, _with_commune(data))
        session = await mediation.add_session(command, principal.actor)
    except DomainError as refusal:
        message, field = _refusal(refusal)
        form = _shown_with_commune(mediation.UnplannedSessionIn, data)
        context = _new_context(form, message, field)
        context["commune_choices"] = _choices(refusal)
        return Template("session_new.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/sessions/{session['id']}", status_code=303)


@get("/workshops/new", opt={"roles": LENDING}, include_in_schema=False)
async def new_workshop_page() -> Template:
    """A collective workshop: date, label, participants by their borrower codes."""
    form = {"planned_on": date.today().isoformat()}
    return Template("mediation_workshop.html", context={"form": form, "levels": coop.LEVELS})


@post("/workshops/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def new_workshop_submit(
    data: Form, principal: NamedDependency[Principal]
) -> Redirect | Template:
    """The participants are typed as borrower codes; the command takes their ids, as the API."""
    typed = str(data.get("participants", ""))
    try:
        codes = typed.replace(",", " ").replace(";", " ").split()
        ids = await mediation.borrower_ids_by_code(codes[:100], field="participants")
        command = form_to(mediation.WorkshopIn, {**data, "borrower_ids": [str(i) for i in ids]})
        session = await mediation.create_workshop(command, principal.actor)
    except DomainError as refusal:
        message, field = _refusal(refusal)
        form = {**form_values(mediation.WorkshopIn, data), "participants": typed}
        if field == "borrower_ids":
            field = "participants"
        context = {
            "form": form,
            "error": message,
            "field": field or "participants",
            "levels": coop.LEVELS,
        }
        return Template("mediation_workshop.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/sessions/{session['id']}", status_code=303)


ROUTES: list[Any] = [
    agenda_page,
    activities_download,
    new_session_page,
    new_session_submit,
    session_page,
    session_submit,
    session_correct,
    new_workshop_page,
    new_workshop_submit,
]
