"""Exceptions into answers: JSON with a sentence for the API, a page or a redirect for people."""

from __future__ import annotations

import logging
import sqlite3
from urllib.parse import quote

from asyncpg import exceptions as pg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from inventory.errors import Conflict, DomainError, Invalid, NotFound
from inventory.tags import TagError, TagMisread

log = logging.getLogger("reemploi.web")

STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (TagError, 422),
]


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/schema"))


def _json(status: int, detail: str, extra: object = None) -> Response:
    body: dict[str, object] = {"status_code": status, "detail": detail}
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, media_type=MediaType.JSON)


def domain_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind))
    if _wants_page(request):
        return Template(
            "error.html",
            context={"message": str(exc), "principal": request.scope.get("user")},
            status_code=status,
        )
    reason = "misread" if isinstance(exc, TagMisread) else None
    return _json(status, str(exc), {"reason": reason} if reason else None)


def validation_error(request: Request, exc: ValidationException) -> Response:
    messages = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            where = item.get("key") or item.get("source") or ""
            messages.append(f"{where} : {item.get('message', '')}".strip(" :"))
    sentence = "Requête invalide" + (f" ({'; '.join(messages)})." if messages else ".")
    return _json(400, sentence, exc.extra)


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and _wants_page(request):
        return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
    detail = exc.detail or "Erreur."
    if _wants_page(request) and exc.status_code in (403, 404, 405):
        return Template(
            "error.html",
            context={"message": detail, "principal": request.scope.get("user")},
            status_code=exc.status_code,
        )
    return Response(
        {"status_code": exc.status_code, "detail": detail},
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=getattr(exc, "headers", None),
    )


def too_deep(request: Request, exc: RecursionError) -> Response:
    return _json(400, "Requête invalide : document JSON trop imbriqué.")


TOO_LARGE = (
    "Requête invalide : un nombre dépasse ce que la base de données enregistre "
    "(identifiants, tailles et décalages : 9 223 372 036 854 775 807 au plus)."
)
BUSY = (
    "La base de données est occupée par d'autres écritures : "
    "réessayez dans quelques secondes, rien n'a été enregistré."
)
TOO_LONG = "Requête invalide : un texte dépasse la longueur que la base de données enregistre."
RETRY_AFTER_SECONDS = 5
# PostgreSQL's answers to contention: the transaction was rolled back and may simply be retried.
PG_CONTENTION = (pg.SerializationError, pg.DeadlockDetectedError, pg.LockNotAvailableError)


def _refusal(request: Request, status: int, sentence: str, headers: dict | None = None) -> Response:
    if _wants_page(request):
        return Template(
            "error.html",
            context={"message": sentence, "principal": request.scope.get("user")},
            status_code=status,
            headers=headers,
        )
    body = {"status_code": status, "detail": sentence}
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def too_large(request: Request, exc: Exception) -> Response:
    """An integer the database cannot hold (SQLite: 64 bits; PostgreSQL ids: 32 bits)."""
    text = str(exc)
    if isinstance(exc, OverflowError) or "out of int" in text or "integer out of range" in text:
        return _refusal(request, 400, TOO_LARGE)
    return internal_error(request, exc)


def too_long(request: Request, exc: Exception) -> Response:
    """A text longer than its column (PostgreSQL checks varchar lengths; SQLite does not)."""
    return _refusal(request, 422, TOO_LONG)


def database_busy(request: Request, exc: Exception) -> Response:
    """A write that waited past the busy timeout, or lost to a concurrent one: retry later."""
    if isinstance(exc, PG_CONTENTION) or "locked" in str(exc) or "busy" in str(exc):
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
        return _refusal(request, 503, BUSY, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return internal_error(request, exc)


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR, "Erreur interne : l'équipe technique a été prévenue."
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    TagError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    OverflowError: too_large,  # sqlite3: "Python int too large to convert to SQLite INTEGER"
    # asyncpg's check of arguments ("value out of int32 range") and PostgreSQL's own (22003).
    pg.DataError: too_large,
    pg._base.DataError: too_large,
    pg.StringDataRightTruncationError: too_long,
    sqlite3.OperationalError: database_busy,  # "database is locked"
    pg.TransactionRollbackError: database_busy,
    pg.LockNotAvailableError: database_busy,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error,
}
