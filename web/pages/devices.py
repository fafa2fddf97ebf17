"""The device card at /d/<tag> and the home page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from piccolo.query.functions.aggregate import Count

from inventory import devices, lifecycle
from inventory.errors import Conflict, NotFound
from inventory.states import STATE_LABELS_FR, DeviceState
from inventory.tables import Device
from inventory.tags import TagError
from web.roles import EVERYONE, STAFF, WORKSHOP


@get("/", opt={"roles": EVERYONE}, include_in_schema=False)
async def home(request: Request) -> Template:
    counts = await Device.select(Device.state, Count(alias="devices")).group_by(Device.state)
    by_state = {row["state"]: row["devices"] for row in counts}
    rows = [(STATE_LABELS_FR[s], by_state.get(s, 0)) for s in DeviceState]
    return Template("home.html", context={"rows": rows, "principal": request.user})


@get("/d/{tag:str}", opt={"roles": STAFF}, include_in_schema=False)
async def device_page(request: Request, tag: str) -> Template:
    try:
        device = await devices.get_device(tag)
    except (TagError, NotFound) as error:
        status = 404 if isinstance(error, NotFound) else 422
        return Template(
            "error.html",
            context={"message": str(error), "principal": request.user},
            status_code=status,
        )
    facts = await devices.device_facts(device)
    allowed = []
    if request.user.role in WORKSHOP:
        allowed = [
            lifecycle.TRANSITIONS[name]
            for name in lifecycle.allowed(DeviceState(device["state"]), facts)
            if name not in lifecycle.DOMAIN_ONLY
        ]
    return Template(
        "device.html",
        context={
            "device": device,
            "state_label": STATE_LABELS_FR[DeviceState(device["state"])],
            "labels": STATE_LABELS_FR,
            "disks": await devices.device_disks(device["id"]),
            "events": await devices.device_events(device["id"]),
            "allowed": allowed,
            "principal": request.user,
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
            context={"message": str(error), "principal": request.user},
            status_code=409 if isinstance(error, Conflict) else 422,
        )
    return Redirect(f"/d/{device['asset_tag']}", status_code=303)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
