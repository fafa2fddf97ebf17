"""Authentication (session cookie or bearer token) and the one guard every route goes through.

Routes declare who may call them with `opt={"roles": ...}` or `opt={"public": True}`; a route
that declares neither is refused to everyone, so forgetting a declaration fails closed.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from web import accounts

SESSION_COOKIE = "reemploi_session"


class PrincipalMiddleware(AbstractAuthenticationMiddleware):
    """Attach the caller, if any; anonymous requests go on and the guard decides."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        principal = None
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            principal = await accounts.principal_for_token(header[7:].strip())
            if principal is None:
                raise NotAuthorizedException("Jeton d'accès inconnu ou révoqué.")
        elif token := connection.cookies.get(SESSION_COOKIE):
            principal = await accounts.session_principal(token)
        return AuthenticationResult(user=principal, auth=None)


async def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Refuse the caller unless the route is public or names their role.

    A coroutine on purpose: Litestar runs a plain-function guard in a worker thread, a trip
    to another thread and back on every request for a few dictionary look-ups.
    """
    # OPTIONS only answers which methods exist (Litestar's automatic handler): nothing to guard.
    if handler.opt.get("public") or connection.scope.get("method") == "OPTIONS":
        return
    principal = connection.scope.get("user")
    if principal is None:
        raise NotAuthorizedException("Connexion requise.")
    roles = handler.opt.get("roles")
    if not roles or principal.role not in roles:
        raise PermissionDeniedException("Votre rôle ne permet pas cette action.")
