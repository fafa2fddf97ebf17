"""piccolo-admin, in French, for administrators only, mounted at /admin behind our login.

It holds only the tables that have no page of their own: sites, donors, accounts, roles and
tokens. Devices, donations, events, loans, charters, programmes, borrowers and organisations have
their pages (their changes go through services that write events). piccolo-admin keeps its own
session cookie; the login page sets it to the same server-side session as ours.

A filter in front of piccolo-admin decides what may be written, on the server (a hidden button
is not a refusal): sites and donors are archived, never deleted (DESIGN invariant 9), and both
our session and piccolo-admin's must be an administrator's. Column titles are given in French in
the table schemas piccolo-admin reads.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, cast

from litestar import asgi
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.types import Message, Receive, Scope, Send
from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import AdminRouter, TableConfig, create_admin
from piccolo_admin.translations.data import ENGLISH, FRENCH
from piccolo_admin.translations.models import Translation
from piccolo_api.crud.hooks import Hook, HookType

from inventory.tables import Donor, Site
from web import accounts
from web.roles import Role
from web.settings import secure_cookies
from web.tables import ApiToken, StaffRole

ADMIN_COOKIE = "id"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TABLE_PATH = re.compile(r"^/+api/+tables/+([^/]+)")
# Who may open the admin at all.
ADMINS = frozenset({Role.admin})
# Reference data created and edited here (never deleted).
REFERENCE_TABLES = frozenset({"site", "donor"})
# What piccolo-admin itself needs to be written by anyone let in: its login, logout, own password.
OPEN_WRITES = frozenset({"/public/login/", "/public/logout/", "/api/change-password/"})
NO_DELETE = {
    "site": "Un site ne se supprime pas : archivez-le (POST /api/v1/sites/<id>/archive).",
    "donor": "Un donateur ne se supprime pas : archivez-le (POST /api/v1/donors/<id>/archive).",
    "organisation": "Une organisation ne se supprime pas : archivez-la depuis sa page.",
    "programme": "Un programme ne se supprime pas : archivez-le depuis la page Programmes.",
    "api_token": "Un jeton ne se supprime pas : révoquez-le (reemploi token revoke).",
}
# A PUT replaces a row without piccolo-api's hooks (which keep archived_at out); the form patches.
NO_PUT = "Modifiez la fiche champ par champ (PATCH) : le remplacement complet n'est pas permis."
LOGIN_ELSEWHERE = "Connectez-vous par la page /login de Réemploi."
SCHEMA_PATH = re.compile(r"^/+api/+tables/+[^/]+/+schema/*$")
# Column titles, in French, for the tables shown here.
COLUMN_TITLES = {
    "id": "N°",
    "name": "Nom",
    "address": "Adresse",
    "phone": "Téléphone",
    "archived_at": "Archivé le",
    "kind": "Type",
    "contact_email": "Courriel de contact",
    "created_at": "Créé le",
    "revoked_at": "Révoqué le",
    "role": "Rôle",
    "user": "Compte",
    "organisation": "Organisation (compte partenaire)",
    "username": "Identifiant",
    "password": "Mot de passe",
    "first_name": "Prénom",
    "last_name": "Nom de famille",
    "email": "Courriel",
    "active": "Actif",
    "admin": "Accès à l'administration",
    "superuser": "Super-utilisateur",
    "last_login": "Dernière connexion",
    "token_sha256": "Empreinte du jeton",
}
# piccolo-admin's French, with a few words set right for this workshop.
FRENCH_UI = Translation(
    language_name="Français",
    language_code="fr",
    translations={
        **FRENCH.translations,
        "Delete": "Supprimer",
        "Edit": "Modifier",
        "Save": "Enregistrer",
        "Update": "Modifier",
        "Tables": "Tables",
        "Showing": "Affichage",
        "Days": "Jours",
        "Light Mode": "Mode clair",
        "Welcome to": "Bienvenue dans",
        "Thanks for using Piccolo Admin.": "Merci d'utiliser Piccolo Admin.",
        "MFA Code": "Code de double authentification",
        "MFA Setup": "Double authentification",
        "Submit": "Valider",
        "selected result(s) on": "résultat(s) sélectionné(s) sur",
    },
)
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
def admin_app() -> AdminRouter:
    return create_admin(
        tables=[
            TableConfig(Site, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
            TableConfig(Donor, menu_group="Référentiel", hooks=ARCHIVE_HOOKS),
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
            TableConfig(BaseUser, menu_group="Comptes"),
        ],
        site_name="Réemploi · administration",
        default_language_code="fr",
        translations=[FRENCH_UI, ENGLISH],
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


def _french_titles(body: bytes) -> bytes:
    """A table schema with French column titles (piccolo-admin shows each property's title)."""
    try:
        schema = json.loads(body)
    except ValueError:
        return body
    for name, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict) and name in COLUMN_TITLES:
            spec["title"] = COLUMN_TITLES[name]
    return json.dumps(schema, ensure_ascii=False).encode()


def _french_page(body: bytes) -> bytes:
    """piccolo-admin's page, in French, with our script that names the tables in French."""
    text = body.decode()
    text = text.replace('<html lang="en">', '<html lang="fr">')
    text = text.replace("<title>Piccolo Admin</title>", "<title>Réemploi · administration</title>")
    text = re.sub(
        r"<noscript>.*?</noscript>",
        "<noscript>L'administration demande JavaScript.</noscript>",
        text,
        flags=re.S,
    )
    script = '<script src="/static/admin.js" defer></script>'
    return text.replace("</head>", f"  {script}\n</head>", 1).encode()


async def _serve_rewritten(scope: Scope, receive: Receive, send: Send, rewrite: Any) -> None:
    """Buffer piccolo-admin's answer and rewrite its body when it succeeds."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def capture(message: Any) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(chunks)
        headers = list(start.get("headers", []))
        if start.get("status") == 200:
            body = rewrite(body)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        await send(cast(Message, {**start, "headers": headers}))
        await send(cast(Message, {"type": "http.response.body", "body": body}))

    await admin_app()(scope, receive, capture)  # type: ignore[arg-type]


@asgi("/admin", is_mount=True, copy_scope=True, opt={"roles": ADMINS}, include_in_schema=False)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and (reason := await refusal(scope)):
        raise PermissionDeniedException(reason)
    inner = _inner_path(scope)
    if scope["type"] == "http" and SCHEMA_PATH.match(inner):
        await _serve_rewritten(scope, receive, send, _french_titles)
    elif scope["type"] == "http" and scope.get("method") == "GET" and inner in ("/", ""):
        await _serve_rewritten(scope, receive, send, _french_page)
    else:
        await admin_app()(scope, receive, send)  # type: ignore[arg-type]
