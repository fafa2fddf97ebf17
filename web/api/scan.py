"""One endpoint for every scan: look a code up, or apply the batch action chosen once."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import post
from litestar.exceptions import PermissionDeniedException

from inventory.batch import BATCH_ACTIONS, apply_batch_action
from web.accounts import Principal
from web.api.devices import device_with_actions
from web.api.schemas import DeviceOut
from web.roles import STAFF, WORKSHOP


class ScanIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    action: str = "lookup"
    site_id: int | None = None


class ScanOut(msgspec.Struct):
    device: DeviceOut
    action: str


async def scan_code(data: ScanIn, principal: Principal) -> ScanOut:
    """The service call behind both the API and the no-JavaScript form."""
    if data.action != "lookup" and data.action in BATCH_ACTIONS and principal.role not in WORKSHOP:
        raise PermissionDeniedException("Votre rôle permet de consulter, pas de modifier.")
    row = await apply_batch_action(data.code, data.action, principal.actor, site_id=data.site_id)
    return ScanOut(device=await device_with_actions(row), action=data.action)


@post("/api/v1/scan", opt={"roles": STAFF}, tags=["devices"], status_code=200)
async def scan(data: ScanIn, principal: Principal) -> ScanOut:
    """A scanned code: 200 with the device, 404 unknown tag, 422 misread, 409 refused action."""
    return await scan_code(data, principal)
