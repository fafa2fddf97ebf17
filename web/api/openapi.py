"""What every API answer looks like when it refuses, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec


class ErrorBody(msgspec.Struct):
    """A refusal: the HTTP status, a French sentence, and details when there are some."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None


DESCRIPTIONS = {
    400: "Requête mal formée (corps ou paramètres illisibles).",
    401: "Non authentifié : jeton ou session manquant.",
    403: "Le rôle ne permet pas cette opération.",
    404: "Introuvable.",
    409: "Conflit avec l'état actuel ou une modification concurrente.",
    413: "Envoi trop volumineux.",
    422: "Contenu refusé : la phrase dit quel champ corriger.",
    503: "Base de données occupée : réessayer plus tard, rien n'a été enregistré.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The refusals a handler may answer with, documented with their body; 401 and 403 always
    (every API route is behind the role guard)."""
    return {
        code: ResponseSpec(data_container=ErrorBody, description=DESCRIPTIONS[code])
        for code in sorted({401, 403, *codes})
    }
