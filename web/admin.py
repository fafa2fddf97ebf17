"""piccolo-admin for reference data, mounted at /admin behind our login and roles.

Devices, donations, events, loans and charters are not editable here: their changes go through
services that write events, and a charter once signed is never edited (a new text is a new
version, made through the charters API). piccolo-admin keeps its own session cookie; the login
page sets it to the same server-side session as ours.

A filter in front of piccolo-admin decides what may be written, on the server (a hidden button
is not a refusal): sites, donors, organisations and programmes are archived, never deleted
(DESIGN invariant 9), and accounts, roles and tokens are written by administrators only.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from litestar import asgi
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Send
from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_api.crud.hooks import Hook, HookType

from inventory.tables import Donor, Site
from loans.tables import Organisation, Programme
from web import accounts
from web.roles import MANAGERS, Role
from web.settings import secure_cookies
from web.tables import ApiToken, StaffRole

ADMIN_COOKIE = "id"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TABLE_PATH = re.compile(r"^/+api/+tables/+([^/]+)")
# Reference data a coordinator may create and edit here (never delete).
REFERENCE_TABLES = frozenset({"site", "donor", "organisation", "programme"})
# What piccolo-admin itself needs to be written by anyone let in: its login, logout, own password.
OPEN_WRITES = frozenset({"/public/login/", "/public/logout/", "/api/change-password/"})
NO_DELETE = {
    "site": "Un site ne se supprime pas : archivez-le (POST /api/v1/sites/<id>/archive).",
    "donor": "Un donateur ne se supprime pas : archivez-le (POST /api/v1/donors/<id>/archive).",
    "organisation": (
        "Une organisation ne se supprime pas : archivez-la "
        "(POST /api/v1/organisations/<id>/archive)."
    ),
    "programme": (
        "Un programme ne se supprime pas : archivez-le (POST /api/v1/programmes/<id>/archive)."
    ),
    "api_token": "Un jeton ne se supprime pas : révoquez-le (reemploi token revoke).",
}
# A PUT replaces a row without piccolo-api's hooks (which keep archived_at out); the form patches.
NO_PUT = "Modifiez la fiche champ par champ (PATCH) : le remplacement complet n'est pas permis."
LOGIN_ELSEWHERE = "Connectez-vous par la page /login de Réemploi."
ADMINS_ONLY = "Seul un administrateur peut modifier les comptes, les rôles et les jetons d'accès."


def _without_archived_at_on_patch(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    # Archiving writes an event (inventory.archive, loans.archive); the admin form cannot.
    # piccolo-api passes the values keyed by column.
    return {column: v for column, v in values.items() if column._meta.name != "archived_at"}


def _without_archived_at_on_save(row: Any) -> Any:
    row.archived_at = None
    return row


ARCHIVE_HOOKS = [
    Hook(hook_type=HookType.pre_patch, callable=_without_archived_at_on_patch),
    Hook(hook_type=HookType.pre_save, callable=_without_archived_at_on_save),
]


@cache
def admin_app() -> ASGIApp:
    return create_admin(
        tables=[
            TableConfig(Site, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
            TableConfig(Donor, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
            TableConfig(Organisation, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
            TableConfig(Programme, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
            TableConfig(StaffRole, menu_group="Comptes"),
            TableConfig(
                ApiToken,
                menu_group="Comptes",
                visible_columns=[
                    ApiToken.id,
                    ApiToken.name,
                    ApiToken.role,
                    ApiToken.created_at,
                    ApiToken.revoked_at,
                ],
            ),
            BaseUser,
        ],
        site_name="Réemploi · administration",
        default_language_code="fr",
        production=secure_cookies(),
        auto_include_related=False,
        # The sessions table keeps token digests: piccolo-admin must look them up the same way.
        session_table=accounts.HashedSessions,
    )


def _inner_path(scope: Scope) -> str:
    path = scope["path"]
    return path[len("/admin") :] if path.startswith("/admin/") else path


async def _is_admin(scope: Scope) -> bool:
    """Both the caller we authenticated and piccolo-admin's own session must be administrators."""
    caller = scope.get("user")
    token = ASGIConnection(scope).cookies.get(ADMIN_COOKIE)
    acting = await accounts.session_principal(token) if token else None
    return (
        caller is not None
        and caller.role == Role.admin
        and acting is not None
        and acting.role == Role.admin
    )


async def refusal(scope: Scope) -> str | None:
    """Why this request to piccolo-admin is refused, or None when it may go on."""
    method = scope.get("method", "GET").upper()
    if method not in WRITES:
        return None
    path = _inner_path(scope)
    if re.sub("/+", "/", path).rstrip("/") == "/public/login":
        # piccolo-admin's own login would go around the throttling of failed logins.
        return LOGIN_ELSEWHERE
    match = TABLE_PATH.match(path)
    table = match.group(1).lower() if match else None
    if method == "DELETE" and table in NO_DELETE:
        return NO_DELETE[table]
    if method == "PUT" and table in REFERENCE_TABLES:
        return NO_PUT
    if path in OPEN_WRITES or (table in REFERENCE_TABLES and method in ("POST", "PATCH")):
        return None
    # Everything else (accounts, roles, tokens, sessions, anything new) is for administrators.
    return None if await _is_admin(scope) else ADMINS_ONLY


@asgi("/admin", is_mount=True, copy_scope=True, opt={"roles": MANAGERS}, include_in_schema=False)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and (reason := await refusal(scope)):
        raise PermissionDeniedException(reason)
    await admin_app()(scope, receive, send)  # type: ignore[arg-type]
