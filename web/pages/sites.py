"""Site pages: the association's places and how the national map of digital mediation shows them.

The form becomes `inventory.sites.SiteIn` with `form_to`, the struct POST /api/v1/sites decodes;
e-mails and web addresses are typed on one line each and split here.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from inventory import site_vocabulary as vocabulary
from inventory import sites
from inventory.errors import Conflict, DomainError, FieldInvalid
from loans import communes
from loans.reports.lieux import missing
from web.forms import form_to, form_values
from web.roles import MANAGERS

Form = URLEncodedBody[dict[str, Any]]
CHOICES = {
    "typology": list(vocabulary.Typology),
    "services": list(vocabulary.Service),
    "publics": list(vocabulary.Public),
    "specific_support": list(vocabulary.SpecificSupport),
    "fees": list(vocabulary.Fee),
    "national_programmes": list(vocabulary.NationalProgramme),
    "labels": list(vocabulary.Label),
    "access_modes": list(vocabulary.AccessMode),
    "support_modes": list(vocabulary.SupportMode),
    "roaming": list(vocabulary.Roaming),
}
TYPED_LISTS = ("emails", "websites")


def _command_values(data: dict[str, Any]) -> dict[str, Any]:
    """The form with the typed lists split (one value per line, or separated by spaces)."""
    values = dict(data)
    for field in TYPED_LISTS:
        raw = values.get(field, "")
        raw = " ".join(raw) if isinstance(raw, list) else str(raw)
        values[field] = [v for v in re.split(r"[\s,;|]+", raw) if v]
    return values


def _with_insee(command: sites.SiteIn) -> sites.SiteIn:
    """The commune's INSEE code read from the communes list when only the name was typed."""
    if command.insee_code.strip() or not command.commune.strip():
        return command
    found = communes.exact(command.commune)
    if command.postal_code.strip():
        found = [c for c in found if command.postal_code.strip() in c.postcodes] or found
    if len(found) != 1:
        return command
    return sites.SiteIn(**{**_as_dict(command), "insee_code": found[0].insee})


def _as_dict(command: sites.SiteIn) -> dict[str, Any]:
    return {f: getattr(command, f) for f in command.__struct_fields__}


def _context(form: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"form": form, "choices": CHOICES, "error": "", "error_field": "", **extra}


def _shown(site: sites.SiteOut) -> dict[str, Any]:
    form = _as_dict(site)
    for field in TYPED_LISTS:
        form[field] = "\n".join(form[field])
    return form


def _typed(data: dict[str, Any]) -> dict[str, Any]:
    form = form_values(sites.SiteIn, _command_values(data))
    for field in TYPED_LISTS:
        form[field] = "\n".join(form.get(field, []))
    return form


def _refused(data: dict[str, Any], refusal: DomainError, **extra: Any) -> Template:
    field = refusal.field if isinstance(refusal, FieldInvalid) else ""
    context = _context(_typed(data), error=str(refusal), error_field=field, **extra)
    status = 409 if isinstance(refusal, Conflict) else 422
    return Template("site_form.html", context=context, status_code=status)


@get("/sites", opt={"roles": MANAGERS}, include_in_schema=False)
async def site_list() -> Template:
    """The sites, archived ones last, with what the national map still lacks of each."""
    rows = await sites.list_sites(include_archived=True)
    lacking = {site.id: missing(site) for site in rows}
    return Template("sites.html", context={"sites": rows, "lacking": lacking})


@get("/sites/new", opt={"roles": MANAGERS}, include_in_schema=False)
async def site_new() -> Template:
    return Template("site_form.html", context=_context({}))


@post("/sites/new", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def site_create(data: Form) -> Redirect | Template:
    try:
        command = _with_insee(form_to(sites.SiteIn, _command_values(data)))
        await sites.add_site(command)
    except DomainError as refusal:
        return _refused(data, refusal)
    return Redirect("/sites", status_code=303)


@get("/sites/{site_id:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def site_edit(site_id: FromPath[int]) -> Template:
    site = await sites.get_site(site_id)
    return Template("site_form.html", context=_context(_shown(site), site=site))


@post("/sites/{site_id:int}", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def site_update(site_id: FromPath[int], data: Form) -> Redirect | Template:
    site = await sites.get_site(site_id)
    try:
        command = _with_insee(form_to(sites.SiteIn, _command_values(data)))
        await sites.update_site(site_id, command)
    except DomainError as refusal:
        return _refused(data, refusal, site=site)
    return Redirect("/sites", status_code=303)


ROUTES: list[Any] = [site_list, site_new, site_create, site_edit, site_update]
