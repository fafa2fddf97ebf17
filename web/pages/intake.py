"""Registering donations (a count of devices or a spreadsheet) and pre-labelled devices.

Both forms become the API's commands (`DonationIn`, `TaggedDeviceIn`) through `form_to`, and go
to the same services: page and API register the same lot for the same input.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio.to_process
import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, MultipartBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory import intake
from inventory.errors import DomainError, NotFound
from inventory.intake import DonationIn, TaggedDeviceIn
from inventory.spreadsheet import read_devices
from inventory.states import DONOR_KIND_LABELS_FR, DeviceKind
from inventory.tables import Device, Donation, Donor, Site
from inventory.tags import TagError
from web.forms import form_to
from web.roles import WORKSHOP

IntakeForm = MultipartBody[dict[str, Any]]


def _typed(form: dict[str, Any]) -> dict[str, str]:
    """What was typed, to put back in the form when it is refused (the file aside)."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def _intake_context(form: dict[str, Any] | None = None, error: str | None = None) -> dict:
    return {
        "donors": await Donor.select(Donor.id, Donor.name)
        .where(Donor.archived_at.is_null())
        .order_by(Donor.name),
        "sites": await Site.select(Site.id, Site.name)
        .where(Site.archived_at.is_null())
        .order_by(Site.name),
        "donor_kinds": DONOR_KIND_LABELS_FR,
        "kinds": list(DeviceKind),
        "form": form or {"received_on": date.today().isoformat(), "device_count": ""},
        "error": error,
    }


@get("/intake", opt={"roles": WORKSHOP}, include_in_schema=False)
async def intake_form() -> Template:
    return Template("intake.html", context=await _intake_context())


async def _command(form: dict[str, Any]) -> DonationIn:
    """The form as the API's command; a spreadsheet, when one is joined, lists the devices."""
    command = form_to(DonationIn, _typed(form))
    upload = form.get("spreadsheet")
    if isinstance(upload, UploadFile) and upload.filename:
        # Parsing is CPU work: a worker process keeps it off the event loop and out of its GIL.
        listed = await anyio.to_process.run_sync(read_devices, await upload.read(), upload.filename)
        return msgspec.structs.replace(command, devices=listed, device_count=None)
    return command


@post("/intake", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def register_donation(request: Request, data: IntakeForm) -> Redirect | Template:
    """Same command and service as POST /api/v1/donations; errors come back on the form."""
    try:
        lot = await intake.receive_donation(await _command(data), request.user.actor)
    except DomainError as error:
        context = await _intake_context(_typed(data), str(error))
        return Template("intake.html", context=context, status_code=422)
    return Redirect(f"/donations/{lot.id}?new=1", status_code=303)


@get("/donations/{donation_id:int}", opt={"roles": WORKSHOP}, include_in_schema=False)
async def donation_page(donation_id: FromPath[int], new: FromQuery[bool] = False) -> Template:
    donation = (
        await Donation.select(*Donation.all_columns(), Donation.donor.name, Donation.site.name)
        .where(Donation.id == donation_id)
        .first()
    )
    if donation is None:
        raise NotFound(f"Don {donation_id} inconnu.")
    rows = await Device.select().where(Device.donation == donation_id).order_by(Device.id)
    return Template("donation.html", context={"donation": donation, "rows": rows, "new": new})


@get("/intake/device", opt={"roles": WORKSHOP}, include_in_schema=False)
async def tagged_device_form(
    tag: Annotated[str, QueryParameter(max_length=300)] = "",
) -> Template:
    return Template("tagged_device.html", context=await _tagged_context({"tag": tag[:40]}))


async def _tagged_context(form: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    donations = (
        await Donation.select(Donation.id, Donation.received_on, Donation.donor.name)
        .order_by(Donation.id, ascending=False)
        .limit(50)
    )
    return {"form": form, "error": error, "donations": donations, "kinds": list(DeviceKind)}


@post("/intake/device", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def register_tagged_device(
    request: Request, data: URLEncodedBody[dict[str, Any]]
) -> Redirect | Template:
    """A device whose label was printed in advance joins a known lot."""
    try:
        command = form_to(TaggedDeviceIn, data)
        row = await intake.receive_tagged_device(command, request.user.actor)
    except (DomainError, TagError) as error:
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        context = await _tagged_context(form, str(error))
        return Template("tagged_device.html", context=context, status_code=422)
    return Redirect(f"/d/{row['asset_tag']}", status_code=303)
