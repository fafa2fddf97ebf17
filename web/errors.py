"""Exceptions into answers: JSON with a sentence for the API, a page or a redirect for people."""

from __future__ import annotations

import logging
from urllib.parse import quote

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
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error,
}
