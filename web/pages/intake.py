"""Registering donations (a count of devices or a spreadsheet) and pre-labelled devices."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio.to_process
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from inventory import intake
from inventory.errors import DomainError, Invalid, NotFound
from inventory.spreadsheet import read_devices
from inventory.states import N_, DeviceKind, DonorKind
from inventory.tables import Device, Donation, Donor, Site
from inventory.tags import TagError
from web.roles import WORKSHOP

DONOR_KIND_LABELS = {
    DonorKind.company: N_("Entreprise"),
    DonorKind.public_body: N_("Organisme public"),
    DonorKind.school: N_("École"),
    DonorKind.association: N_("Association"),
    DonorKind.individual: N_("Particulier"),
}
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


async def _intake_context(form: dict[str, Any] | None = None, error: str | None = None) -> dict:
    return {
        "donors": await Donor.select(Donor.id, Donor.name)
        .where(Donor.archived_at.is_null())
        .order_by(Donor.name),
        "sites": await Site.select(Site.id, Site.name)
        .where(Site.archived_at.is_null())
        .order_by(Site.name),
        "donor_kinds": DONOR_KIND_LABELS,
        "kinds": list(DeviceKind),
        "form": form or {"received_on": date.today().isoformat(), "device_count": ""},
        "error": error,
    }


@get("/intake", opt={"roles": WORKSHOP}, include_in_schema=False)
async def intake_form() -> Template:
    return Template("intake.html", context=await _intake_context())


def _text(form: dict[str, Any], key: str, limit: int = 200) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _donor(form: dict[str, Any]) -> tuple[int | None, intake.DonorIn | None]:
    """The chosen donor's id, or the new donor typed on the form (created with the lot)."""
    new_name = _text(form, "new_donor_name")
    if new_name:
        return None, intake.DonorIn(new_name, _text(form, "new_donor_kind", 20))
    if _text(form, "donor_id").isdigit():
        return int(_text(form, "donor_id")), None
    raise Invalid("Choisissez un donateur ou saisissez-en un nouveau.")


async def _devices(form: dict[str, Any]) -> list[intake.DeviceSpec]:
    upload = form.get("spreadsheet")
    if isinstance(upload, UploadFile) and upload.filename:
        # Parsing is CPU work: a worker process keeps it off the event loop and out of its GIL.
        return await anyio.to_process.run_sync(read_devices, await upload.read(), upload.filename)
    count = _text(form, "device_count")
    if not count.isdigit() or not 1 <= int(count) <= intake.MAX_DEVICES_PER_DONATION:
        raise Invalid("Indiquez un nombre d'appareils (1 à 2000) ou joignez un tableur.")
    return [intake.DeviceSpec(kind=_text(form, "kind", 20) or DeviceKind.laptop)] * int(count)


@post("/intake", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def register_donation(request: Request, data: Form) -> Redirect | Template:
    """Same service as POST /api/v1/donations; errors come back on the form, nothing saved."""
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        received_on = date.fromisoformat(_text(form, "received_on"))
    except ValueError:
        return Template(
            "intake.html",
            context=await _intake_context(form, "Date de réception invalide."),
            status_code=422,
        )
    try:
        devices = await _devices(data)
        site = _text(form, "site_id")
        if not site.isdigit():
            raise Invalid("Choisissez le site de réception.")
        donor_id, new_donor = _donor(form)
        lot = await intake.register_donation(
            donor_id=donor_id,
            new_donor=new_donor,
            site_id=int(site),
            received_on=received_on,
            devices=devices,
            actor=request.user.actor,
            notes=_text(form, "notes", 2000),
            weee_reference=_text(form, "weee_reference", 80),
        )
    except DomainError as error:
        return Template(
            "intake.html", context=await _intake_context(form, str(error)), status_code=422
        )
    return Redirect(f"/donations/{lot['id']}?new=1", status_code=303)


@get("/donations/{donation_id:int}", opt={"roles": WORKSHOP}, include_in_schema=False)
async def donation_page(donation_id: int, new: bool = False) -> Template:
    donation = (
        await Donation.select(Donation.all_columns(), Donation.donor.name, Donation.site.name)
        .where(Donation.id == donation_id)
        .first()
    )
    if donation is None:
        raise NotFound(f"Don {donation_id} inconnu.")
    rows = await Device.select().where(Device.donation == donation_id).order_by(Device.id)
    return Template("donation.html", context={"donation": donation, "rows": rows, "new": new})


@get("/intake/device", opt={"roles": WORKSHOP}, include_in_schema=False)
async def tagged_device_form(tag: str = "") -> Template:
    return Template("tagged_device.html", context=await _tagged_context({"tag": tag[:40]}))


async def _tagged_context(form: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    donations = (
        await Donation.select(Donation.id, Donation.received_on, Donation.donor.name)
        .order_by(Donation.id, ascending=False)
        .limit(50)
    )
    return {"form": form, "error": error, "donations": donations, "kinds": list(DeviceKind)}


@post("/intake/device", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def register_tagged_device(request: Request, data: Form) -> Redirect | Template:
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    spec = intake.DeviceSpec(
        kind=_text(form, "kind", 20) or DeviceKind.laptop,
        brand=_text(form, "brand", 80),
        model=_text(form, "model", 120),
        serial=_text(form, "serial", 80),
    )
    try:
        if not _text(form, "donation_id").isdigit():
            raise Invalid("Choisissez le don dont vient l'appareil.")
        row = await intake.register_tagged_device(
            _text(form, "tag", 300), int(_text(form, "donation_id")), spec, request.user.actor
        )
    except (DomainError, TagError) as error:
        return Template(
            "tagged_device.html", context=await _tagged_context(form, str(error)), status_code=422
        )
    return Redirect(f"/d/{row['asset_tag']}", status_code=303)
