"""piccolo-admin for reference data, mounted at /admin behind our login and roles.

Devices, donations, events, loans and charters are not editable here: their changes go through
services that write events, and a charter once signed is never edited (a new text is a new
version, made through the charters API). piccolo-admin keeps its own session cookie; the login
page sets it to the same server-side session as ours.
"""

from __future__ import annotations

from functools import cache

from litestar import asgi
from litestar.types import ASGIApp, Receive, Scope, Send
from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import TableConfig, create_admin

from inventory.tables import Donor, Site
from loans.tables import Organisation, Programme
from web.roles import MANAGERS
from web.settings import secure_cookies
from web.tables import ApiToken, StaffRole

ADMIN_COOKIE = "id"


@cache
def admin_app() -> ASGIApp:
    return create_admin(
        tables=[
            TableConfig(Site, menu_group="Référentiel"),
            TableConfig(Donor, menu_group="Référentiel"),
            TableConfig(Organisation, menu_group="Référentiel"),
            TableConfig(Programme, menu_group="Référentiel"),
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
    )


@asgi("/admin", is_mount=True, copy_scope=True, opt={"roles": MANAGERS}, include_in_schema=False)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    await admin_app()(scope, receive, send)  # type: ignore[arg-type]
