"""Organisations (schools, social centres) that borrow class sets or partner with us.

The commune is chosen by name: suggestions come from `/organisations/communes?q=` (used by
web/static/organisations.js), and the server resolves the typed name itself, so the form works
without JavaScript; a name several communes share comes back with the choices.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.commands import build
from inventory.errors import Conflict, DomainError, FieldInvalid, Invalid
from loans import borrowers, communes
from loans.borrowers import OrganisationIn
from loans.tables import Borrower, Organisation
from web.accounts import Principal
from web.roles import LENDING

Form = URLEncodedBody[dict[str, Any]]
Actor = NamedDependency[Principal]


class CommuneOut(msgspec.Struct):
    """A commune suggested for the name typed so far."""

    name: str
    insee: str
    departement: str
    postcodes: list[str]
    label: str


class AmbiguousCommune(FieldInvalid):
    """The typed name is shared by several communes: the form lists them to choose from."""

    def __init__(self, field: str, choices: tuple[communes.Commune, ...]) -> None:
        super().__init__(
            field,
            "Commune : plusieurs communes correspondent à ce nom ; choisissez la bonne dans la "
            "liste (le numéro est celui du département).",
        )
        self.choices = [c.as_dict() for c in choices]


def text(form: dict[str, Any], key: str, limit: int = 200) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def resolve_commune(form: dict[str, Any], field: str) -> tuple[str, str]:
    """(name, INSEE code) of the commune typed in `field`, or picked among `field`_insee."""
    name, insee = text(form, field, 160), text(form, f"{field}_insee", 5)
    if not name and not insee:
        return "", ""
    try:
        found = communes.resolve(name, insee)
    except Invalid as refusal:
        raise FieldInvalid(field, str(refusal)) from None
    if found.commune is None:
        raise AmbiguousCommune(field, found.choices)
    return found.commune.name, found.commune.insee


def commune_label(name: str, insee: str) -> str:
    """What the commune field shows for a stored commune: its name and département."""
    commune = communes.by_insee(insee) if insee else None
    return commune.label if commune is not None else name


def refusal_context(refusal: Exception, field: str = "") -> dict[str, Any]:
    """The error sentence, the field it concerns and, for a shared name, the choices."""
    context: dict[str, Any] = {"error": str(refusal), "error_field": field}
    if isinstance(refusal, FieldInvalid):
        context["error_field"] = refusal.field
    if isinstance(refusal, AmbiguousCommune):
        context["commune_choices"] = {refusal.field: refusal.choices}
    return context


@get("/organisations/communes", opt={"roles": LENDING}, include_in_schema=False)
async def commune_suggestions(
    q: Annotated[str, QueryParameter(max_length=120)] = "",
) -> list[CommuneOut]:
    """Up to 20 communes for the name typed so far (name, département, INSEE code)."""
    if len(q.strip()) < 2:
        return []
    return [msgspec.convert(c.as_dict(), CommuneOut) for c in communes.search(q, limit=20)]


@get("/organisations", opt={"roles": LENDING}, include_in_schema=False)
async def organisation_list() -> Template:
    rows = await Organisation.select().order_by(Organisation.name)
    borrower_of = {
        b["organisation"]: b["id"]
        for b in await Borrower.select(Borrower.id, Borrower.organisation).where(
            (Borrower.kind == "organisation") & Borrower.anonymised_at.is_null()
        )
    }
    for row in rows:
        row["label"] = commune_label(row["commune"], row["insee_code"])
        row["borrower_id"] = borrower_of.get(row["id"])
    return Template("organisations.html", context={"organisations": rows})


def _form_context(form: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"form": form, "kinds": borrowers.ORGANISATION_KINDS, "commune_choices": {}, **extra}


@get("/organisations/new", opt={"roles": LENDING}, include_in_schema=False)
async def organisation_new() -> Template:
    return Template("organisation_form.html", context=_form_context({"kind": "school"}))


def _parse(form: dict[str, Any]) -> OrganisationIn:
    """The form as the API's command (same struct as POST /api/v1/organisations)."""
    name = text(form, "name", 400)
    if not name:
        raise FieldInvalid("name", "Nom : champ obligatoire.")
    kind = text(form, "kind", 30)
    if kind not in borrowers.ORGANISATION_KINDS:
        raise FieldInvalid(
            "kind", "Type : choisissez école, collège, centre social ou association."
        )
    commune, insee = resolve_commune(form, "commune")
    values = {
        "name": name,
        "kind": kind,
        "commune": commune,
        "insee_code": insee,
        "qpv": form.get("qpv") == "on",
    }
    return build(OrganisationIn, values, strict=False)


def _field_of(refusal: DomainError) -> str:
    message = str(refusal)
    if message.startswith("Nom"):
        return "name"
    if message.startswith("Type"):
        return "kind"
    return "commune" if message.startswith("Commune") else ""


@post("/organisations/new", opt={"roles": LENDING}, include_in_schema=False, status_code=303)
async def organisation_create(data: Form) -> Redirect | Template:
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        await borrowers.add_organisation(_parse(form))
    except DomainError as refusal:
        context = _form_context(form, **refusal_context(refusal, _field_of(refusal)))
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("organisation_form.html", context=context, status_code=status)
    return Redirect("/organisations", status_code=303)


@get("/organisations/{organisation_id:int}/edit", opt={"roles": LENDING}, include_in_schema=False)
async def organisation_edit(organisation_id: FromPath[int]) -> Template:
    row = await borrowers.get_organisation(organisation_id)
    form = {
        "name": row["name"],
        "kind": row["kind"],
        "commune": commune_label(row["commune"], row["insee_code"]),
        "commune_insee": row["insee_code"],
        "qpv": "on" if row["qpv"] else "",
    }
    return Template("organisation_form.html", context=_form_context(form, organisation=row))


@post(
    "/organisations/{organisation_id:int}/edit",
    opt={"roles": LENDING},
    include_in_schema=False,
    status_code=303,
)
async def organisation_update(
    organisation_id: FromPath[int], data: Form, principal: Actor
) -> Redirect | Template:
    row = await borrowers.get_organisation(organisation_id)
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        await borrowers.update_organisation(organisation_id, _parse(form), actor=principal.actor)
    except DomainError as refusal:
        context = _form_context(
            form, organisation=row, **refusal_context(refusal, _field_of(refusal))
        )
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("organisation_form.html", context=context, status_code=status)
    return Redirect("/organisations", status_code=303)


ROUTES: list[Any] = [
    commune_suggestions,
    organisation_list,
    organisation_new,
    organisation_create,
    organisation_edit,
    organisation_update,
]
