"""Reading pages: the dashboard, the device list, and the device card at /d/<tag>."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from piccolo.query.functions.aggregate import Count

from inventory import devices, lifecycle
from inventory.devices import now
from inventory.errors import Conflict, NotFound
from inventory.states import N_, STATE_LABELS_FR, DeviceKind, DeviceState, Grade
from inventory.tables import Device, Donation, Event, Site
from inventory.tags import TagError
from labels.stocks import STOCKS
from loans.tables import LoanDevice
from provisioning.tables import SanitizationRecord
from web.api.devices import device_filter
from web.roles import EVERYONE, STAFF, WORKSHOP

# The week's throughput: which events count as which step of the workshop.
THROUGHPUT = [
    ("registered", N_("Reçus")),
    ("wipe_passed", N_("Effacés")),
    ("image_verified", N_("Installés")),
    ("qualify", N_("Prêts")),
    ("checkout", N_("Prêtés")),
    ("return_end", N_("Rendus")),
]
PER_PAGE = 50


@get("/", opt={"roles": EVERYONE}, include_in_schema=False)
async def home() -> Template:
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
    return Template(
        "home.html",
        context={
            "rows": rows,
            "total": sum(by_state.values()),
            "week": week,
            "week_max": max([count for _, count in week] + [1]),
        },
    )


@get(
    "/devices",
    opt={"roles": STAFF},
    include_in_schema=False,
    dependencies={"filters": Provide(device_filter, sync_to_thread=False)},
)
async def device_list(
    request: Request,
    filters: devices.DeviceFilter,
    page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
) -> Template:
    rows, total = await devices.list_devices(filters, page, PER_PAGE)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return Template(
        "devices.html",
        context={
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "query": query,
            "filters": filters,
            "states": list(DeviceState),
            "kinds": list(DeviceKind),
            "grades": list(Grade),
            "sites": await Site.select(Site.id, Site.name).order_by(Site.name),
            "donations": await Donation.select(
                Donation.id, Donation.received_on, Donation.donor.name
            )
            .order_by(Donation.id, ascending=False)
            .limit(100),
        },
    )


@get("/d/{tag:str}", opt={"roles": STAFF}, include_in_schema=False)
async def device_page(request: Request, tag: str) -> Template:
    device = await devices.get_device(tag)
    allowed = []
    if request.user.role in WORKSHOP:
        allowed = [
            lifecycle.TRANSITIONS[name] for name in await devices.generic_transitions(device)
        ]
    site = (
        await Site.select(Site.name).where(Site.id == device["site"]).first()
        if device["site"]
        else None
    )
    wipes = (
        await SanitizationRecord.select(
            SanitizationRecord.status,
            SanitizationRecord.method_type,
            SanitizationRecord.media_model,
            SanitizationRecord.media_serial,
            SanitizationRecord.started_at,
            SanitizationRecord.reason,
            SanitizationRecord.certificate_id,
        )
        .where(SanitizationRecord.device == device["id"])
        .order_by(SanitizationRecord.id, ascending=False)
    )
    loans = (
        await LoanDevice.select(
            LoanDevice.loan,
            LoanDevice.out_at,
            LoanDevice.returned_at,
            LoanDevice.outcome,
            LoanDevice.loan.status,
            LoanDevice.loan.borrower.code,
        )
        .where(LoanDevice.device == device["id"])
        .order_by(LoanDevice.id, ascending=False)
    )
    return Template(
        "device.html",
        context={
            "device": device,
            "site": site,
            "disks": await devices.device_disks(device["id"]),
            "wipes": wipes,
            "loans": loans,
            "events": await devices.device_events(device["id"]),
            "allowed": allowed,
            "can_print": request.user.role in WORKSHOP,
            "stocks": [(key, stock.name) for key, stock in STOCKS.items()],
        },
    )


@post("/d/{tag:str}/transitions", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def device_transition_form(
    request: Request,
    tag: str,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect | Template:
    """The no-JavaScript path of the device card's buttons; same service as the API."""
    try:
        device = await devices.apply_transition(
            tag,
            str(data.get("transition", ""))[:40],
            request.user.actor,
            reason=str(data.get("reason", ""))[:20] or None,
            expected_version=_int_or_none(data.get("expected_version")),
        )
    except (Conflict, TagError, NotFound) as error:
        return Template(
            "error.html",
            context={"message": str(error)},
            status_code=409 if isinstance(error, Conflict) else 422,
        )
    return Redirect(f"/d/{device['asset_tag']}", status_code=303)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
