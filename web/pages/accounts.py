"""Accounts: create partner and funder accounts (admins: any), change a role, link a partner to
its organisation and a funder to its programmes. The rules are in web.account_links."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.errors import DomainError, FieldInvalid, NotFound
from loans.tables import Organisation, Programme
from web import account_links
from web.account_links import NewAccount, OrganisationLink, ProgrammeLink, RoleChange
from web.accounts import Principal
from web.forms import form_to
from web.roles import MANAGERS, ROLE_LABELS_FR

Form = URLEncodedBody[dict[str, Any]]
Caller = NamedDependency[Principal]


async def _organisations() -> list[dict[str, Any]]:
    return await (
        Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.archived_at.is_null())
        .order_by(Organisation.name)
    )


async def _list_context(
    principal: Principal, form: dict | None = None, error: str | None = None, field: str = ""
) -> dict[str, Any]:
    return {
        "accounts": await account_links.list_accounts(),
        "role_labels": ROLE_LABELS_FR,
        "roles": account_links.roles_managed_by(principal),
        "organisations": await _organisations(),
        "form": form or {},
        "error": error,
        "field": field,
    }


@get("/accounts", opt={"roles": MANAGERS}, include_in_schema=False)
async def accounts_page(principal: Caller) -> Template:
    return Template("accounts.html", context=await _list_context(principal))


def _field_of(refusal: DomainError) -> str:
    """Which field a refusal names, to mark it on the form."""
    if isinstance(refusal, FieldInvalid):
        return refusal.field
    # The password and name rules of `web.accounts.create_user` name their field in words.
    lowered = str(refusal).lower()
    for key, words in (
        ("password", "mot de passe"),
        ("username", "utilisateur"),
        ("organisation_id", "organisation"),
        ("role", "rôle"),
    ):
        if words in lowered:
            return key
    return ""


@post("/accounts", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def create_account(principal: Caller, data: Form) -> Redirect | Template:
    form = {k: v for k, v in data.items() if isinstance(v, str) and k != "password"}
    try:
        new = form_to(NewAccount, data)
        user_id = await account_links.create_account(principal, new)
    except DomainError as refusal:
        context = await _list_context(principal, form, str(refusal), _field_of(refusal))
        return Template("accounts.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/accounts/{user_id}", status_code=303)


async def _account_context(
    principal: Principal, user_id: int, error: str | None = None, field: str = ""
) -> dict[str, Any]:
    account = await account_links.get_account(user_id)
    linked = {p["id"] for p in account["programmes"]}
    programmes = await Programme.select(Programme.id, Programme.name).order_by(Programme.name)
    return {
        "account": account,
        "role_labels": ROLE_LABELS_FR,
        "may_manage": account_links.may_manage(principal, account),
        "own": principal.user_id == user_id,
        "roles": account_links.roles_managed_by(principal),
        "organisations": await _organisations(),
        "programmes": [p for p in programmes if p["id"] not in linked],
        "error": error,
        "field": field,
    }


@get("/accounts/{user_id:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def account_page(principal: Caller, user_id: FromPath[int]) -> Template:
    return Template("account.html", context=await _account_context(principal, user_id))


async def _refused(principal: Principal, user_id: int, refusal: DomainError, field: str) -> Any:
    if isinstance(refusal, NotFound) and "Compte" in str(refusal):
        raise refusal
    where = refusal.field if isinstance(refusal, FieldInvalid) else field
    context = await _account_context(principal, user_id, str(refusal), where)
    return Template("account.html", context=context, status_code=refusal.status_code)


@post(
    "/accounts/{user_id:int}/role",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def change_role(principal: Caller, user_id: FromPath[int], data: Form) -> Redirect | Template:
    try:
        change = form_to(RoleChange, data)
        await account_links.change_role(principal, user_id, change.role)
    except DomainError as refusal:
        return await _refused(principal, user_id, refusal, "role")
    return Redirect(f"/accounts/{user_id}", status_code=303)


@post(
    "/accounts/{user_id:int}/organisation",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def link_organisation(
    principal: Caller, user_id: FromPath[int], data: Form
) -> Redirect | Template:
    try:
        link = form_to(OrganisationLink, data)
        await account_links.link_organisation(principal, user_id, link.organisation_id)
    except DomainError as refusal:
        return await _refused(principal, user_id, refusal, "organisation_id")
    return Redirect(f"/accounts/{user_id}", status_code=303)


@post(
    "/accounts/{user_id:int}/programmes",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def link_programme(
    principal: Caller, user_id: FromPath[int], data: Form
) -> Redirect | Template:
    try:
        link = form_to(ProgrammeLink, data)
        await account_links.link_programme(principal, user_id, link.programme_id)
    except DomainError as refusal:
        return await _refused(principal, user_id, refusal, "programme_id")
    return Redirect(f"/accounts/{user_id}", status_code=303)


@post(
    "/accounts/{user_id:int}/programmes/{programme_id:int}/remove",
    opt={"roles": MANAGERS},
    include_in_schema=False,
    status_code=303,
)
async def unlink_programme(
    principal: Caller, user_id: FromPath[int], programme_id: FromPath[int]
) -> Redirect | Template:
    try:
        await account_links.unlink_programme(principal, user_id, programme_id)
    except DomainError as refusal:
        return await _refused(principal, user_id, refusal, "")
    return Redirect(f"/accounts/{user_id}", status_code=303)


ROUTES: list[Any] = [
    accounts_page,
    create_account,
    account_page,
    change_role,
    link_organisation,
    link_programme,
    unlink_programme,
]
