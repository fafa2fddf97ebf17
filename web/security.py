"""Web hardening: cross-origin writes refused, security headers, an access log without secrets.

Cookies are not isolated by port, and a sibling subdomain may set them: a page of the same site
(another port of this host, another name of the domain) gets the session cookie sent with its
form posts and may read or plant the CSRF cookie. So a write authenticated by the session cookie
must also show that it comes from our own pages; bearer-token clients carry no ambient cookie.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from web.guards import SESSION_COOKIE
from web.settings import base_url

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# piccolo-admin's session cookie (web.admin.ADMIN_COOKIE) and its own CSRF cookie.
ADMIN_SESSION_COOKIE = "id"
ADMIN_CSRF_COOKIE = "csrftoken"
ADMIN_CSRF_HEADER = "x-csrftoken"

CROSS_ORIGIN = (
    "Écriture refusée : la requête vient d'une autre origine que Réemploi "
    "alors qu'elle porte le cookie de session."
)
NOT_JSON = (
    "Écriture refusée : l'API n'accepte d'une session ouverte dans le navigateur que du JSON "
    "(Content-Type: application/json)."
)
NO_TOKEN = (
    "Écriture refusée : une session ouverte dans le navigateur doit envoyer l'en-tête x-csrftoken "
    "(la valeur du cookie reemploi_csrf) ; un script utilise un jeton (Authorization: Bearer)."
)
ADMIN_NO_TOKEN = (
    "Écriture refusée : l'administration n'accepte que les requêtes de ses propres pages "
    "(en-tête X-CSRFToken)."
)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(scope: Scope, connection: ASGIConnection) -> set[str]:
    """This server as the browser reached it (Host header), and as REEMPLOI_BASE_URL names it."""
    host = connection.headers.get("host", "")
    return {f"{scope.get('scheme', 'http')}://{host}".lower(), _origin_of(base_url())}


def _says_cross_origin(scope: Scope, connection: ASGIConnection) -> bool:
    """What the browser tells: an Origin not ours (`null` included), or a cross-origin fetch."""
    fetch_site = connection.headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = connection.headers.get("origin")
    return origin is not None and origin.rstrip("/").lower() not in _own_origins(scope, connection)


def _same_origin(scope: Scope, connection: ASGIConnection) -> bool:
    if connection.headers.get("sec-fetch-site") == "same-origin":
        return True
    origin = connection.headers.get("origin")
    return origin is not None and origin.rstrip("/").lower() in _own_origins(scope, connection)


def _csrf_secret(token: str, key: str) -> str | None:
    """The random part of one of Litestar's signed CSRF tokens, or None if its HMAC is wrong."""
    secret, signature = token[:64], token[64:]
    expected = hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return secret if len(token) > 64 and hmac.compare_digest(signature, expected) else None


def _api_token_ok(scope: Scope, connection: ASGIConnection) -> bool:
    """The x-csrftoken header is the reemploi_csrf cookie, both signed by our key (as Litestar)."""
    config = scope["litestar_app"].csrf_config
    sent = connection.headers.get(config.header_name)
    cookie = connection.cookies.get(config.cookie_name)
    if not sent or not cookie:
        return False
    mine, theirs = _csrf_secret(sent, config.secret), _csrf_secret(cookie, config.secret)
    return mine is not None and theirs is not None and hmac.compare_digest(mine, theirs)


def _admin_token_ok(connection: ASGIConnection) -> bool:
    sent = connection.headers.get(ADMIN_CSRF_HEADER)
    cookie = connection.cookies.get(ADMIN_CSRF_COOKIE)
    return bool(sent and cookie and hmac.compare_digest(sent, cookie))


def _json_or_empty(connection: ASGIConnection) -> bool:
    media_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type:
        return media_type == "application/json"
    # No type and no body: a bare POST (archive, close). A body without a type is refused.
    headers = connection.headers
    return headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers


def in_admin(scope: Scope) -> bool:
    """Routed to piccolo-admin, whose mount leaves only the inner path in `scope["path"]`."""
    handler = scope.get("route_handler")
    return "/admin" in getattr(handler, "paths", ())


def write_refusal(scope: Scope) -> str | None:
    """Why this cookie-authenticated write is refused, or None when it may go on."""
    if scope["type"] != "http" or scope.get("method", "GET").upper() not in WRITES:
        return None
    connection: ASGIConnection = ASGIConnection(scope)
    if connection.headers.get("authorization", "").lower().startswith("bearer "):
        return None
    cookies = connection.cookies
    if SESSION_COOKIE not in cookies and ADMIN_SESSION_COOKIE not in cookies:
        return None
    if _says_cross_origin(scope, connection):
        return CROSS_ORIGIN
    if in_admin(scope):
        if not (_admin_token_ok(connection) or _same_origin(scope, connection)):
            return ADMIN_NO_TOKEN
    elif scope["path"].startswith("/api/"):  # routed, so percent-decoded and normalised
        if not _json_or_empty(connection):
            return NOT_JSON
        if not (_api_token_ok(scope, connection) or _same_origin(scope, connection)):
            return NO_TOKEN
    # Pages: Litestar's CSRF middleware checks the form's token.
    return None


class CrossOriginWriteMiddleware:
    """Refuse (403) cookie-authenticated writes that do not come from Réemploi's own pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if reason := write_refusal(scope):
            raise PermissionDeniedException(reason)
        await self.app(scope, receive, send)


# The pages' scripts and styles are files under /static (no inline code): nothing from elsewhere.
PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# piccolo-admin (a Vue application we do not build) sets styles inline.
ADMIN_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Documents (PDF, CSV, JSON…) run nothing; a PDF keeps the browser's viewer.
DOCUMENT_CSP = "default-src 'none'; frame-ancestors 'none'"
PDF_CSP = "frame-ancestors 'none'"
# A report downloaded as a standalone HTML file carries its own <style> and no script.
STANDALONE_HTML_CSP = "; ".join(
    ["default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "frame-ancestors 'none'"]
)
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on our own
    # form posts, and the origin check above would refuse them.
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}


def _policy(admin: bool, content_type: str, disposition: str) -> str:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "text/html" and disposition.lower().startswith("attachment"):
        return STANDALONE_HTML_CSP
    if media_type == "text/html":
        return ADMIN_CSP if admin else PAGE_CSP
    return PDF_CSP if media_type == "application/pdf" else DOCUMENT_CSP


def _cacheable(scope: Scope, admin: bool) -> bool:
    """Files that never hold personal data: our static files and piccolo-admin's bundle."""
    path = scope.get("path", "")
    return path.startswith("/assets/") if admin else path.startswith("/static/")


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: the security headers on every HTTP response, errors and /admin too."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    admin = in_admin(scope)
    for name, value in COMMON_HEADERS.items():
        headers[name] = value
    headers["content-security-policy"] = _policy(
        admin, headers.get("content-type") or "", headers.get("content-disposition") or ""
    )
    # Charters, exports, reports, certificates and every page naming a borrower: not kept.
    if not _cacheable(scope, admin) and "cache-control" not in headers:
        headers["cache-control"] = "no-store"


# Access log: signing links are secrets and search terms may be a borrower's name or phone.
SECRET_PATH = re.compile(r"^(/sign/)[^/?]+")
SECRET_PARAMS = frozenset({"q", "search", "name", "phone", "email", "token"})
REDACTED = "…"


def redact_path(path: str) -> str:
    """`/sign/<token>` and the values of personal query parameters replaced by an ellipsis."""
    path, _, query = path.partition("?")
    path = SECRET_PATH.sub(rf"\g<1>{REDACTED}", path)
    if not query:
        return path
    parts = []
    for part in query.split("&"):
        key = unquote_plus(part.partition("=")[0]).strip().lower()
        parts.append(f"{part.partition('=')[0]}={REDACTED}" if key in SECRET_PARAMS else part)
    return f"{path}?{'&'.join(parts)}"


class RedactAccessLog(logging.Filter):
    """Rewrite the path in uvicorn's access log records (args: client, method, path, …)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the redacting filter on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "web.security.RedactAccessLog"}
    config["handlers"]["access"].setdefault("filters", []).append("redact")
    return config
