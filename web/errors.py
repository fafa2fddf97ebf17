"""Exceptions into answers: JSON with a sentence for the API, a page or a redirect for people."""

from __future__ import annotations

import html
import logging
import sqlite3
from urllib.parse import quote

from asyncpg import exceptions as pg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from inventory.commands import french_reason
from inventory.errors import DomainError
from inventory.states import N_
from inventory.tags import TagError, TagMisread
from web import i18n

log = logging.getLogger("reemploi.web")


def _wants_page(request: Request) -> bool:
    """People's pages get a page; the API, its schema and the admin's own API get JSON."""
    return not request.url.path.startswith(("/api/", "/schema", "/admin/api/"))


# What a person reads when the server's own words are not for them (a framework's English
# phrase, an unexpected failure): a French sentence by status, English through the catalog.
PAGE_SENTENCES = {
    400: N_(
        "Cette demande est incomplète ou mal formée : revenez à la page précédente et réessayez."
    ),
    403: N_("Votre rôle ne permet pas d'ouvrir cette page."),
    404: N_("Cette page n'existe pas."),
    405: N_("Cette adresse ne s'ouvre pas ainsi : revenez à la page précédente."),
    413: N_("L'envoi est trop volumineux."),
    429: N_("Trop de demandes en peu de temps : patientez un instant puis réessayez."),
    500: N_(
        "Une erreur inattendue est survenue ; l'équipe technique a été prévenue. Réessayez "
        "dans un moment ou revenez au tableau de bord."
    ),
}
INVALID_PAGE = N_(
    "Une valeur de la page n'a pas pu être lue : revenez à la page précédente, corrigez-la et "
    "réessayez."
)
PLAIN_PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Réemploi</title>'
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main id="main">'
    '<section class="card narrow"><p class="error" role="alert">{}</p>'
    '<p><a href="/">Tableau de bord</a></p></section></main></body></html>'
)


def _ours(detail: str) -> bool:
    """Réemploi's own sentences are French (accents, « : »); the framework's are English."""
    return any(ord(c) > 127 for c in detail) or " : " in detail


def _page(
    request: Request, status: int, sentence: str, headers: dict[str, str] | None = None
) -> Response:
    """The error page with its sentence (translated when the catalog has it), rendered now so
    that a failure here still answers; in the person's language even before routing."""
    try:
        i18n.current_language.set(i18n.language_of(request))
    except Exception:  # a request too broken to read its language: French
        log.debug("no language for the error page", exc_info=True)
    context = {"message": i18n.gettext(sentence), "principal": request.scope.get("user")}
    try:
        engine = request.app.template_engine
        if engine is None:
            raise RuntimeError("no template engine")
        template = engine.get_template("error.html")
        body = template.render(
            **Template("error.html", context=context).create_template_context(request)
        )
    except Exception:
        log.exception("error page failed on %s %s", request.method, request.url.path)
        body = PLAIN_PAGE.format(html.escape(sentence))
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)


def _sentence(status: int) -> str:
    return PAGE_SENTENCES.get(status) or PAGE_SENTENCES[400 if status < 500 else 500]


def _json(status: int, detail: str, extra: object = None) -> Response:
    body: dict[str, object] = {"status_code": status, "detail": detail}
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, media_type=MediaType.JSON)


def domain_error(request: Request, exc: Exception) -> Response:
    # Each domain error carries its HTTP meaning (inventory.errors); nothing is chosen by name.
    status = getattr(exc, "status_code", 400)
    if _wants_page(request):
        return _page(request, status, str(exc))
    reason = "misread" if isinstance(exc, TagMisread) else None
    return _json(status, str(exc), {"reason": reason} if reason else None)


def _french(item: dict[str, object]) -> str:
    """One of Litestar's validation items as « field : French sentence »."""
    where = str(item.get("key") or item.get("source") or "")
    sentence, named = french_reason(str(item.get("message", "")))
    where = ".".join(p for p in (where, named) if p)
    return f"{where} : {sentence}" if where else sentence


def validation_error(request: Request, exc: ValidationException) -> Response:
    messages = [_french(item) for item in exc.extra or [] if isinstance(item, dict)]
    sentence = "Requête invalide" + (f" ({'; '.join(messages)})" if messages else "") + "."
    if _wants_page(request):
        log.info("invalid page request %s %s: %s", request.method, request.url.path, sentence)
        return _page(request, 400, INVALID_PAGE)
    return _json(400, sentence, exc.extra)


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and _wants_page(request):
        return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
    detail = exc.detail or "Erreur."
    if _wants_page(request):
        sentence = detail if _ours(detail) else _sentence(exc.status_code)
        return _page(request, exc.status_code, sentence, getattr(exc, "headers", None))
    return Response(
        {"status_code": exc.status_code, "detail": detail},
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers=getattr(exc, "headers", None),
    )


def too_deep(request: Request, exc: RecursionError) -> Response:
    if _wants_page(request):
        return _page(request, 400, _sentence(400))
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
        return _page(request, status, sentence, headers)
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
    if _wants_page(request):
        return _page(request, HTTP_500_INTERNAL_SERVER_ERROR, _sentence(500))
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
