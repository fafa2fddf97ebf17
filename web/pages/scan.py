"""The workshop's scan page: one always-focused field, a running list of results."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from inventory import batch, lifecycle
from inventory.batch import BATCH_ACTIONS, BatchAction, ScanIn
from inventory.errors import DomainError, NotFound
from inventory.states import STATE_LABELS_FR
from inventory.tables import Site
from inventory.tags import TagError, TagMisread
from web.forms import form_to
from web.i18n import gettext as _
from web.roles import STAFF, WORKSHOP


async def _context(request: Request, results: list[dict[str, Any]], chosen: str) -> dict[str, Any]:
    can_batch = request.user.role in WORKSHOP
    actions = {k: v for k, v in BATCH_ACTIONS.items() if can_batch or k == "lookup"}
    texts = {
        "states": {s.value: _(label) for s, label in STATE_LABELS_FR.items()},
        "transitions": {n: _(t.label_fr) for n, t in lifecycle.TRANSITIONS.items()},
        "unknown": _("Étiquette inconnue."),
        "register": _("Enregistrer cet appareil"),
        "misread": _("Étiquette mal lue : rescannez."),
        "network": _("Serveur injoignable : rescannez."),
        "done": _("Fait"),
        "allowed": _("Possible :"),
        "camera_unavailable": _("Caméra indisponible sur cet appareil."),
    }
    return {
        "actions": actions,
        "chosen": chosen,
        "sites": await Site.select(Site.id, Site.name)
        .where(Site.archived_at.is_null())
        .order_by(Site.name),
        "results": results,
        "texts_json": json.dumps(texts, ensure_ascii=False),
    }


@get("/scan", opt={"roles": STAFF}, include_in_schema=False)
async def scan_page(request: Request) -> Template:
    return Template("scan.html", context=await _context(request, [], "lookup"))


@post("/scan", opt={"roles": STAFF}, include_in_schema=False, status_code=200)
async def scan_form(request: Request, data: URLEncodedBody[dict[str, Any]]) -> Template:
    """Without JavaScript the form posts here and the page comes back with the result: the
    API's command (`ScanIn`) and service."""
    code = str(data.get("code", ""))[:300]
    action = str(data.get("action", "") or BatchAction.lookup)[:40]
    result: dict[str, Any] = {"code": code}
    try:
        command = form_to(ScanIn, data)
        outcome = await batch.scan(
            command, request.user.actor, may_change=request.user.role in WORKSHOP
        )
        result["device"] = outcome.device
    except TagMisread:
        result["error"], result["kind"] = _("Étiquette mal lue : rescannez."), "misread"
    except NotFound as error:
        result["error"], result["kind"] = str(error), "unknown"
    except (TagError, DomainError) as error:
        result["error"], result["kind"] = str(error), "refused"
    return Template("scan.html", context=await _context(request, [result], action))
