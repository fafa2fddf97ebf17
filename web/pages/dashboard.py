"""The dashboard at /: each role sees what it may open, and every link leads to a page it may
open. Staff see the fleet; a mediator today's agenda; a partner its organisation's summary; a
funder its programmes with links to their reports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template
from piccolo.query.functions.aggregate import Count

from inventory.clock import now
from inventory.states import N_, STATE_LABELS_FR, DeviceState
from inventory.tables import Device, Event
from loans import mediation, partners
from web.account_links import partner_organisation
from web.accounts import Principal
from web.report_readers import programmes_visible_to
from web.roles import EVERYONE, LENDING, STAFF, WORKSHOP, Role

# The week's throughput: which events count as which step of the workshop.
THROUGHPUT = [
    ("registered", N_("Reçus")),
    ("wipe_passed", N_("Effacés")),
    ("image_verified", N_("Installés")),
    ("qualify", N_("Prêts")),
    ("checkout", N_("Prêtés")),
    ("return_end", N_("Rendus")),
]


async def _fleet() -> dict[str, Any]:
    counts = await Device.select(Device.state, Count(alias="devices")).group_by(Device.state)
    by_state = {row["state"]: row["devices"] for row in counts}
    rows = [(s.value, STATE_LABELS_FR[s], by_state.get(s, 0)) for s in DeviceState]
    since = now() - timedelta(days=7)
    kinds = [kind for kind, _ in THROUGHPUT]
    events = (
        await Event.select(Event.kind, Count(alias="events"))
        .where((Event.at >= since) & Event.kind.is_in(kinds))
        .group_by(Event.kind)
    )
    by_kind = {row["kind"]: row["events"] for row in events}
    week = [(label, by_kind.get(kind, 0)) for kind, label in THROUGHPUT]
    return {
        "rows": rows,
        "total": sum(by_state.values()),
        "week": week,
        "week_max": max([count for _, count in week] + [1]),
    }


async def _agenda(principal: Principal) -> dict[str, int]:
    """Sessions due today or overdue: the mediator's own, all of them for managers."""
    mine = principal.name if principal.role == Role.mediator else None
    rows = await mediation.agenda(date.today(), mine, days=0)
    return {
        "today": sum(1 for r in rows if not r["overdue"]),
        "overdue": sum(1 for r in rows if r["overdue"]),
    }


@get("/", opt={"roles": EVERYONE}, include_in_schema=False)
async def home(principal: NamedDependency[Principal]) -> Template:
    role = principal.role
    context: dict[str, Any] = {
        "fleet": await _fleet() if role in STAFF else None,
        "workshop": role in WORKSHOP,
        "agenda": await _agenda(principal) if role in LENDING else None,
        "partner": None,
        "organisation": None,
        "programmes": None,
    }
    if role == Role.partner:
        organisation = await partner_organisation(principal)
        context["partner"] = True
        if organisation is not None:
            context["organisation"] = organisation
            context["summary"] = await partners.summary(organisation["id"])
    if role == Role.funder:
        context["programmes"] = await programmes_visible_to(principal)
    return Template("dashboard.html", context=context)


ROUTES: list[Any] = [home]
