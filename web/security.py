"""Web hardening: cross-origin writes refused, security headers, an access log without secrets.

Cookies are not isolated by port, and a sibling subdomain may set them: a page of the same site
(another port of this host, another name of the domain) gets the session cookie sent with its
form posts and may read or plant the CSRF cookie. So a write authenticated by the session cookie
must also show that it comes from our own pages; bearer-token clients carry no ambient cookie.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import http
import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

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


def _is_own_origin(origin: str, scope: Scope, headers: Headers) -> bool:
    """This server as the browser reached it (Host header), or as REEMPLOI_BASE_URL names it.

    The Host comparison comes first: it answers most requests without reading the settings.
    """
    origin = origin.rstrip("/").lower()
    host = headers.get("host", "")
    if origin == f"{scope.get('scheme', 'http')}://{host}".lower():
        return True
    return origin == _origin_of(base_url())


def _says_cross_origin(scope: Scope, headers: Headers) -> bool:
    """What the browser tells: an Origin not ours (`null` included), or a cross-origin fetch."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = headers.get("origin")
    return origin is not None and not _is_own_origin(origin, scope, headers)


def _same_origin(scope: Scope, headers: Headers) -> bool:
    if headers.get("sec-fetch-site") == "same-origin":
        return True
    origin = headers.get("origin")
    return origin is not None and _is_own_origin(origin, scope, headers)


def _csrf_secret(token: str, key: str) -> str | None:
    """The random part of one of Litestar's signed CSRF tokens, or None if its HMAC is wrong."""
    secret, signature = token[:64], token[64:]
    expected = hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return secret if len(token) > 64 and hmac.compare_digest(signature, expected) else None


def _api_token_ok(scope: Scope, connection: ASGIConnection, headers: Headers) -> bool:
    """The x-csrftoken header is the reemploi_csrf cookie, both signed by our key (as Litestar)."""
    config = scope["litestar_app"].csrf_config
    if config is None:  # no CSRF secret configured: only the same-origin check can pass
        return False
    sent = headers.get(config.header_name)
    cookie = connection.cookies.get(config.cookie_name)
    if not sent or not cookie:
        return False
    mine, theirs = _csrf_secret(sent, config.secret), _csrf_secret(cookie, config.secret)
    return mine is not None and theirs is not None and hmac.compare_digest(mine, theirs)


def _admin_token_ok(connection: ASGIConnection, headers: Headers) -> bool:
    sent = headers.get(ADMIN_CSRF_HEADER)
    cookie = connection.cookies.get(ADMIN_CSRF_COOKIE)
    return bool(sent and cookie and hmac.compare_digest(sent, cookie))


def _json_or_empty(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type:
        return media_type == "application/json"
    # No type and no body: a bare POST (archive, close). A body without a type is refused.
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
    headers = connection.headers  # parsed once per request (kept in the scope's state)
    if headers.get("authorization", "").lower().startswith("bearer "):
        return None
    cookies = connection.cookies
    if SESSION_COOKIE not in cookies and ADMIN_SESSION_COOKIE not in cookies:
        return None
    if _says_cross_origin(scope, headers):
        return CROSS_ORIGIN
    if in_admin(scope):
        if not (_admin_token_ok(connection, headers) or _same_origin(scope, headers)):
            return ADMIN_NO_TOKEN
    elif scope["path"].startswith("/api/"):  # routed, so percent-decoded and normalised
        if not _json_or_empty(headers):
            return NOT_JSON
        if not (_api_token_ok(scope, connection, headers) or _same_origin(scope, headers)):
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


# Replaced on every response (set by us alone); the policy is chosen by the content type.
_SECURITY_RAW = [
    (name.encode("latin-1"), value.encode("latin-1")) for name, value in COMMON_HEADERS.items()
]
_REPLACED = frozenset({name for name, _ in _SECURITY_RAW} | {b"content-security-policy"})


@functools.lru_cache(maxsize=64)
def _policy_raw(admin: bool, content_type: bytes, disposition: bytes) -> bytes:
    policy = _policy(admin, content_type.decode("latin-1"), disposition.decode("latin-1"))
    return policy.encode("latin-1")


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: the security headers on every HTTP response, errors and /admin too.

    One pass over the response's raw headers (every response goes through it): ours replace
    any of the same name; a `cache-control` the handler set is kept.
    """
    if message["type"] != "http.response.start":
        return
    headers: list[tuple[bytes, bytes]] = []
    content_type = disposition = b""
    cache_control = False
    for name, value in message.get("headers", ()):
        lower = name.lower()
        if lower in _REPLACED:
            continue
        if lower == b"content-type":
            content_type = content_type or value
        elif lower == b"content-disposition":
            disposition = disposition or value
        elif lower == b"cache-control":
            cache_control = True
        headers.append((name, value))
    admin = in_admin(scope)
    headers += _SECURITY_RAW
    headers.append((b"content-security-policy", _policy_raw(admin, content_type, disposition)))
    # Charters, exports, reports, certificates and every page naming a borrower: not kept.
    if not cache_control and not _cacheable(scope, admin):
        headers.append((b"cache-control", b"no-store"))
    message["headers"] = headers  # pyright: ignore[reportGeneralTypeIssues]


# Access log: signing links are secrets and search terms may be a borrower's name or phone.
SECRET_PATH = re.compile(r"^(/sign/)[^/?]+")
SECRET_PARAMS = frozenset({"q", "search", "name", "phone", "email", "token"})
REDACTED = "…"


def redact_path(path: str) -> str:
    """`/sign/<token>` and the values of personal query parameters replaced by an ellipsis."""
    path, _, query = path.partition("?")
    if path.startswith("/sign/"):
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


_ACCESS_FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


class AccessLineFormatter(AccessFormatter):
    """uvicorn's access line, word for word, without its two copies of every record and its
    status look-up (every request writes one). Colours (a terminal) or another format take
    uvicorn's own path."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if self.use_colors or self._fmt != _ACCESS_FORMAT or not isinstance(args, tuple):
            return super().formatMessage(record)
        if len(args) != 5:
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status_code = args
        code = int(status_code)  # pyright: ignore[reportArgumentType]
        status = _STATUS_LINES.get(code) or f"{code} "
        level = record.levelname
        prefix = f"{level}:{' ' * (8 - len(level))}"
        return f'{prefix} {client_addr} - "{method} {full_path} HTTP/{http_version}" {status}'


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the redacting filter on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "web.security.RedactAccessLog"}
    config["formatters"]["access"]["()"] = "web.security.AccessLineFormatter"
    config["handlers"]["access"].setdefault("filters", []).append("redact")
    return config
