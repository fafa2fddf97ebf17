"""Programmes: list, create, edit, archive (coordinators and administrators).

The form is parsed into the API's own command (`ProgrammeIn`, the body of POST
/api/v1/programmes) and handed to the services of loans.programmes and loans.archive; a refusal
comes back on the form, with what was typed and the field to correct, and nothing is saved.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.commands import build
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from loans import archive, programmes
from loans.memberships import VALIDITY_LABELS
from loans.programmes import ProgrammeIn
from provisioning.imaging.profiles import PROFILES
from web.accounts import Principal
from web.roles import MANAGERS
from web.tables import FunderProgramme

Form = URLEncodedBody[dict[str, Any]]
Actor = NamedDependency[Principal]
FOLLOWUP_LINE = re.compile(r"^(?P<label>.+?)\s*;\s*(?P<days>[^;]*)$")
EUROS = re.compile(r"^(?P<units>\d{1,9})(?:[.,](?P<cents>\d{1,2}))?$")
# The sentence for a refusal of ProgrammeIn's own constraints, by field.
SCHEMA_SENTENCES = {
    "name": ("name", "Nom du programme : de 1 à 200 caractères."),
    "funder": ("funder", "Financeur : 200 caractères au plus."),
    "starts_on": ("starts_on", "Date de début invalide : choisissez-la dans le calendrier."),
    "ends_on": ("ends_on", "Date de fin invalide : choisissez-la dans le calendrier."),
    "followups": ("followups", "Chaque suivi prévu a un libellé et un délai de 0 à 730 jours."),
    "default_loan_days": ("default_loan_days", "La durée de prêt par défaut va de 1 à 3650 jours."),
    "deposit_cents": ("deposit", "Le dépôt de garantie va de 0 à 100 000 €."),
    "membership_fee_cents": ("membership_fee", "La cotisation va de 0 à 100 000 €."),
    "membership_validity": (
        "membership_validity",
        "Validité de l'adhésion : un nombre de jours ou l'année civile.",
    ),
    "membership_days": ("membership_days", "Durée de l'adhésion : de 1 à 3660 jours."),
    "imaging_profile": ("imaging_profile", "Profil d'installation : choisissez-le dans la liste."),
}


def followup_lines(text: str) -> list[dict[str, Any]]:
    """ "prise en main ; 7" per line -> [{"label": "prise en main", "days": 7}]."""
    plan = []
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    for number, line in enumerate((line for line in lines if line), start=1):
        match = FOLLOWUP_LINE.match(line)
        days = (
            match.group("days").strip().removesuffix("jours").removesuffix("j").strip()
            if match
            else ""
        )
        if not match or not days.isdigit():
            raise FieldInvalid(
                "followups",
                f"Suivis, ligne {number} : écrivez « libellé ; jours », "
                "par exemple « prise en main ; 7 ».",
            )
        plan.append({"label": match.group("label").strip(), "days": int(days)})
    return plan


def followups_text(plan: list[dict[str, Any]]) -> str:
    return "\n".join(f"{step['label']} ; {step['days']}" for step in plan)


def deposit_cents(text: str, field: str = "deposit", what: str = "Dépôt de garantie") -> int:
    """ "35", "35,00", "35.5 €" -> cents; empty is no deposit (or no fee)."""
    compact = re.sub(r"[\s\u00a0\u202f€]", "", text)
    if not compact:
        return 0
    match = EUROS.match(compact)
    if match is None:
        raise FieldInvalid(
            field,
            f"{what} : écrivez un montant en euros, par exemple 35 ou 35,00.",
        )
    return int(match.group("units")) * 100 + int((match.group("cents") or "0").ljust(2, "0"))


def deposit_text(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}" if cents else ""


def _day(form: dict[str, Any], key: str, what: str) -> str | None:
    text = str(form.get(key) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldInvalid(key, f"{what} invalide : choisissez-la dans le calendrier.") from None


def parse(form: dict[str, Any]) -> ProgrammeIn:
    """The form as the API's command, ProgrammeIn (what a field is refused for, named)."""
    days = str(form.get("default_loan_days") or "").strip()
    if days and not days.isdigit():
        raise FieldInvalid(
            "default_loan_days", "Durée de prêt par défaut : un nombre de jours, de 1 à 3650."
        )
    body = {
        "name": str(form.get("name") or "").strip(),
        "funder": str(form.get("funder") or "").strip(),
        "starts_on": _day(form, "starts_on", "Date de début"),
        "ends_on": _day(form, "ends_on", "Date de fin"),
        "followups": followup_lines(str(form.get("followups") or "").strip()),
        "default_loan_days": int(days) if days else None,
        "deposit_cents": deposit_cents(str(form.get("deposit") or "").strip()),
        "membership_required": bool(form.get("membership_required")),
        "membership_fee_cents": deposit_cents(
            str(form.get("membership_fee") or "").strip(), "membership_fee", "Cotisation"
        ),
        "membership_validity": str(form.get("membership_validity") or "days"),
        "imaging_profile": str(form.get("imaging_profile") or "").strip(),
    }
    membership_days = str(form.get("membership_days") or "").strip()
    if membership_days and not membership_days.isdigit():
        raise FieldInvalid("membership_days", "Durée de l'adhésion : de 1 à 3660 jours.")
    if membership_days:
        body["membership_days"] = int(membership_days)
    try:
        return build(ProgrammeIn, body, strict=False)
    except FieldInvalid as refusal:
        name = refusal.field.split(".")[0]
        field, sentence = SCHEMA_SENTENCES.get(name, (name, str(refusal)))
        raise FieldInvalid(field, sentence) from None


def _form_of(row: dict[str, Any]) -> dict[str, str]:
    return {
        "name": row["name"],
        "funder": row["funder"],
        "starts_on": row["starts_on"].isoformat() if row["starts_on"] else "",
        "ends_on": row["ends_on"].isoformat() if row["ends_on"] else "",
        "followups": followups_text(row["followups"] or []),
        "default_loan_days": str(row["default_loan_days"] or ""),
        "deposit": deposit_text(row["deposit_cents"]),
        "membership_required": "on" if row.get("membership_required") else "",
        "membership_fee": deposit_text(row.get("membership_fee_cents") or 0),
        "membership_validity": row.get("membership_validity") or "days",
        "membership_days": str(row.get("membership_days") or 365),
        "imaging_profile": row.get("imaging_profile") or "",
    }


def _typed(data: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in data.items() if isinstance(v, str) and k != "_csrf_token"}


async def _funders(programme_id: int) -> list[dict[str, Any]]:
    return await (
        FunderProgramme.select(
            FunderProgramme.user.username.as_alias("username"),
            FunderProgramme.created_at,
            FunderProgramme.created_by,
        )
        .where(FunderProgramme.programme == programme_id)
        .order_by(FunderProgramme.user.username)
    )


def _refused(refusal: DomainError) -> tuple[str, str, int]:
    field = refusal.field if isinstance(refusal, FieldInvalid) else ""
    return str(refusal), field, 409 if isinstance(refusal, Conflict) else 422


@get("/programmes", opt={"roles": MANAGERS}, include_in_schema=False)
async def programme_list() -> Template:
    return Template("programmes.html", context={"programmes": await programmes.listing()})


# The choices the programme form offers (labels translated by the template).
CHOICES = {
    "validities": {str(k): v for k, v in VALIDITY_LABELS.items()},
    "profiles": {name: p.label for name, p in PROFILES.items()},
}
NEW_FORM = {"followups": "prise en main ; 7\nusages ; 30"}


@get("/programmes/new", opt={"roles": MANAGERS}, include_in_schema=False)
async def programme_new() -> Template:
    return Template("programme.html", context={"programme": None, "form": NEW_FORM, **CHOICES})


@post("/programmes/new", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def programme_create(data: Form, principal: Actor) -> Redirect | Template:
    form = _typed(data)
    try:
        row = await programmes.create(parse(form), principal.actor)
    except DomainError as refusal:
        error, field, status = _refused(refusal)
        context = {"programme": None, "form": form, "error": error, "field": field, **CHOICES}
        return Template("programme.html", context=context, status_code=status)
    return Redirect(f"/programmes/{row['id']}?saved=1", status_code=303)


async def _edit_page(
    programme_id: int,
    form: dict[str, str] | None = None,
    *,
    error: str = "",
    field: str = "",
    saved: bool = False,
    reason: str = "",
    status: int = 200,
) -> Template:
    row = await programmes.get(programme_id)
    context = {
        "programme": row,
        "form": form if form is not None else _form_of(row),
        "funders": await _funders(programme_id),
        "error": error,
        "field": field,
        "saved": saved,
        "reason": reason,
        **CHOICES,
    }
    return Template("programme.html", context=context, status_code=status)


@get("/programmes/{programme_id:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def programme_page(
    programme_id: FromPath[int], saved: Annotated[str, QueryParameter(max_length=10)] = ""
) -> Template:
    return await _edit_page(programme_id, saved=saved == "1")


@post(
    "/programmes/{programme_id:int}",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def programme_update(
    programme_id: FromPath[int], data: Form, principal: Actor
) -> Redirect | Template:
    form = _typed(data)
    try:
        await programmes.update(programme_id, parse(form), principal.actor)
    except (Invalid, Conflict) as refusal:
        error, field, status = _refused(refusal)
        return await _edit_page(programme_id, form, error=error, field=field, status=status)
    return Redirect(f"/programmes/{programme_id}?saved=1", status_code=303)


@post(
    "/programmes/{programme_id:int}/archive",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def programme_archive(
    programme_id: FromPath[int], data: Form, principal: Actor
) -> Redirect | Template:
    reason = str(data.get("reason") or "").strip()
    try:
        await archive.archive_programme(programme_id, principal.actor, reason)
    except (Invalid, Conflict) as refusal:
        error, _, status = _refused(refusal)
        return await _edit_page(
            programme_id, error=error, field="reason", reason=reason, status=status
        )
    return Redirect("/programmes", status_code=303)


ROUTES: list[Any] = [
    programme_list,
    programme_new,
    programme_create,
    programme_page,
    programme_update,
    programme_archive,
    # The loan page's deposit and cession actions, until web/app.py lists them itself.
]
