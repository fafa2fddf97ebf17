"""Devices: look-up by tag or scanned code, filtered lists, transitions, history."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.pagination import OffsetPagination
from litestar.params import Parameter

from inventory import devices, lifecycle
from inventory.states import DeviceKind, DeviceState, Grade
from web.accounts import Principal
from web.api.schemas import DeviceOut, EventOut, TransitionIn, TransitionInfo
from web.roles import STAFF, WORKSHOP

Limit = Annotated[int, Parameter(ge=1, le=500)]
Offset = Annotated[int, Parameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer


async def device_with_actions(row: dict) -> DeviceOut:
    return DeviceOut.from_row(row, await devices.generic_transitions(row))


def device_filter(
    device_state: Annotated[DeviceState | None, Parameter(query="state")] = None,
    site: int | None = None,
    donation: int | None = None,
    kind: DeviceKind | None = None,
    grade: Grade | None = None,
    q: Annotated[str | None, Parameter(max_length=100)] = None,
) -> devices.DeviceFilter:
    """The list filters, read from the query string (shared by the API and the list page)."""
    return devices.DeviceFilter(device_state, site, donation, kind, grade, q)


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["devices"]

    @get(
        "/",
        opt={"roles": STAFF},
        dependencies={"filters": Provide(device_filter, sync_to_thread=False)},
    )
    async def list_devices(
        self, filters: devices.DeviceFilter, limit: Limit = 50, offset: Offset = 0
    ) -> OffsetPagination[DeviceOut]:
        """Devices matching the filters, newest first."""
        rows, total = await devices.list_devices(filters, offset // limit + 1, limit)
        items = [DeviceOut.from_row(r) for r in rows]
        return OffsetPagination(items=items, limit=limit, offset=offset, total=total)

    @get("/{tag:str}", opt={"roles": STAFF})
    async def get_device(self, tag: str) -> DeviceOut:
        """One device by its asset tag, with the transitions allowed now."""
        return await device_with_actions(await devices.get_device(tag))

    @post("/{tag:str}/transitions", opt={"roles": WORKSHOP}, status_code=200)
    async def apply_transition(
        self, tag: str, data: TransitionIn, principal: Principal
    ) -> DeviceOut:
        """Apply a named transition; 409 with a sentence when the rules or a race refuse it."""
        row = await devices.apply_transition(
            tag,
            data.transition,
            principal.actor,
            reason=data.reason,
            note=data.note,
            expected_version=data.expected_version,
        )
        return await device_with_actions(row)

    @get("/{tag:str}/events", opt={"roles": STAFF})
    async def device_events(self, tag: str) -> list[EventOut]:
        """The device's full history, oldest first."""
        device = await devices.get_device(tag)
        return [EventOut.from_row(e) for e in await devices.device_events(device["id"])]


@get("/api/v1/lookup", opt={"roles": STAFF}, tags=["devices"])
async def lookup(code: Annotated[str, Parameter(max_length=300)]) -> DeviceOut:
    """What a scanner typed (a bare tag or a /d/<tag> URL): the device, or why not."""
    return await device_with_actions(await devices.get_device(code))


@get("/api/v1/transitions", opt={"roles": STAFF}, tags=["devices"])
async def transitions() -> list[TransitionInfo]:
    """The lifecycle's named transitions."""
    return [
        TransitionInfo(
            name=t.name,
            label=t.label_fr,
            sources=sorted(t.sources),
            target=t.target,
            custody_change=t.custody_change,
            domain_only=t.loan_effect is not None,
        )
        for t in lifecycle.TRANSITIONS.values()
    ]
