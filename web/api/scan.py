"""One endpoint for every scan: look a code up, or apply the batch action chosen once."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from inventory import batch
from inventory.batch import ScanIn, ScanOut
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import STAFF, WORKSHOP


@post(
    "/api/v1/scan",
    opt={"roles": STAFF},
    tags=["devices"],
    status_code=200,
    responses=errors(404, 409, 422),
)
async def scan(data: JSONBody[ScanIn], principal: NamedDependency[Principal]) -> ScanOut:
    """A scanned code: 200 with the device, 404 unknown tag, 422 misread, 409 refused action,
    403 when the role may look up but not change."""
    return await batch.scan(data, principal.actor, may_change=principal.role in WORKSHOP)
