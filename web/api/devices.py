"""Devices: look-up by tag or scanned code, filtered lists, transitions, history."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.pagination import OffsetPagination  # pyright: ignore[reportAttributeAccessIssue]
from litestar.params import FromPath, JSONBody, QueryParameter

from inventory import devices
from inventory.devices import DeviceFilter, DeviceOut, EventOut, TransitionIn, TransitionInfo
from inventory.states import DeviceKind, DeviceState, Grade
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import STAFF, WORKSHOP

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer
Code = Annotated[str, QueryParameter(max_length=300)]


def device_filter(
    device_state: Annotated[DeviceState | None, QueryParameter(name="state")] = None,
    site: Annotated[int | None, QueryParameter()] = None,
    donation: Annotated[int | None, QueryParameter()] = None,
    kind: Annotated[DeviceKind | None, QueryParameter()] = None,
    grade: Annotated[Grade | None, QueryParameter()] = None,
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> DeviceFilter:
    """The list filters, read from the query string."""
    return DeviceFilter(device_state, site, donation, kind, grade, q)


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["devices"]

    @get(
        "/",
        opt={"roles": STAFF},
        dependencies={"filters": Provide(device_filter, sync_to_thread=False)},
        responses=errors(),
    )
    async def list_devices(
        self, filters: NamedDependency[DeviceFilter], limit: Limit = 50, offset: Offset = 0
    ) -> OffsetPagination[DeviceOut]:
        """Devices matching the filters, newest first."""
        items, total = await devices.device_page(filters, limit, offset)
        return OffsetPagination(items=items, limit=limit, offset=offset, total=total)

    @get("/{tag:str}", opt={"roles": STAFF}, responses=errors(404, 422))
    async def get_device(self, tag: FromPath[str]) -> DeviceOut:
        """One device by its asset tag, with the transitions allowed now."""
        return await devices.describe_device(tag)

    @post(
        "/{tag:str}/transitions",
        opt={"roles": WORKSHOP},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def apply_transition(
        self,
        tag: FromPath[str],
        data: JSONBody[TransitionIn],
        principal: NamedDependency[Principal],
    ) -> DeviceOut:
        """Apply a named transition; 409 with a sentence when the rules or a race refuse it."""
        return await devices.transition_device(tag, data, principal.actor)

    @get("/{tag:str}/events", opt={"roles": STAFF}, responses=errors(404, 422))
    async def device_events(self, tag: FromPath[str]) -> list[EventOut]:
        """The device's full history, oldest first."""
        return await devices.device_history(tag)


@get("/api/v1/lookup", opt={"roles": STAFF}, tags=["devices"], responses=errors(404, 422))
async def lookup(code: Code) -> DeviceOut:
    """What a scanner typed (a bare tag or a /d/<tag> URL): the device, or why not."""
    return await devices.describe_device(code)


@get("/api/v1/transitions", opt={"roles": STAFF}, tags=["devices"], responses=errors())
async def transitions() -> list[TransitionInfo]:
    """The lifecycle's named transitions."""
    return devices.transition_catalogue()
