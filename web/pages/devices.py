"""Reading pages: the dashboard, the device list, and the device card at /d/<tag>."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from inventory import devices, lifecycle
from inventory.devices import DeviceFilter, TransitionIn
from inventory.errors import Conflict, DomainError
from inventory.states import N_, DeviceKind, DeviceState, Grade
from inventory.tables import Donation, Site
from inventory.tags import TagError, parse_tag
from labels.stocks import STOCKS
from loans.tables import LoanDevice
from provisioning import grading
from provisioning.tables import SanitizationRecord
from web.forms import form_to
from web.roles import STAFF, WORKSHOP

PER_PAGE = 50


# The list's filters as the form sends them: an empty select means "all".
FILTER_FIELDS = ("q", "state", "site", "donation", "kind", "grade")
FILTER_REFUSALS = {
    "state": N_("État inconnu : choisissez-en un dans la liste."),
    "site": N_("Site inconnu : choisissez-en un dans la liste."),
    "donation": N_("Don inconnu : choisissez-en un dans la liste."),
    "kind": N_("Type inconnu : choisissez-en un dans la liste."),
    "grade": N_("Grade inconnu : choisissez-en un dans la liste."),
    "q": N_("La recherche tient en 100 caractères."),
}
_TAG_WITHOUT_CHECK = re.compile(r"([A-Z]{1,4})-?(\d{6})")


def search_text(text: str) -> str:
    """What a typed search looks for: a tag as the scan page reads it (`re000030e` is
    RE-000030-E), a tag without its check character (`re000030` is RE-000030), else the text."""
    text = text.strip()
    try:
        return str(parse_tag(text))
    except TagError:
        pass
    bare = _TAG_WITHOUT_CHECK.fullmatch(text.replace(" ", "").upper())
    return f"{bare[1]}-{bare[2]}" if bare else text


def page_filter(params: dict[str, str]) -> tuple[DeviceFilter, dict[str, str]]:
    """The form's fields into the API's filter (`DeviceFilter`); empty fields filter nothing,
    a field that cannot be read is left out and named, with a sentence, in the second value."""
    values = {k: params.get(k, "").strip() for k in FILTER_FIELDS}
    refused: dict[str, str] = {}
    typed: dict[str, Any] = {}
    readers: dict[str, Any] = {
        "state": DeviceState,
        "site": int,
        "donation": int,
        "kind": DeviceKind,
        "grade": Grade,
    }
    for name, read in readers.items():
        if values[name]:
            try:
                typed[name] = read(values[name])
            except ValueError:
                refused[name] = FILTER_REFUSALS[name]
    text = values["q"]
    if len(text) > 100:
        refused["q"], text = FILTER_REFUSALS["q"], ""
    filters = DeviceFilter(
        state=typed.get("state"),
        site=typed.get("site"),
        donation=typed.get("donation"),
        kind=typed.get("kind"),
        grade=typed.get("grade"),
        text=search_text(text) if text else None,
    )
    return filters, refused


@get("/devices", opt={"roles": STAFF}, include_in_schema=False)
async def device_list(
    request: Request,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Template:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    filters, refused = page_filter(params)
    rows, total = await devices.list_devices(filters, page, PER_PAGE)
    typed = params.get("q", "").strip()
    if not total and filters.text and filters.text != typed:
        # A serial that happens to read as a tag: look for the text as typed too.
        filters = msgspec.structs.replace(filters, text=typed)
        rows, total = await devices.list_devices(filters, page, PER_PAGE)
    query = {k: v for k, v in params.items() if k in FILTER_FIELDS and v.strip()}
    return Template(
        "devices.html",
        context={
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "query": query,
            "filters": filters,
            "typed": params.get("q", ""),
            "refused": refused,
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
        status_code=422 if refused else 200,
    )


def hardware_view(device: dict[str, Any]) -> dict[str, Any]:
    """The inventory in the device's facts as the card shows it: disks with SMART health and
    hours, batteries with their wear."""
    hardware = (device.get("facts") or {}).get("hardware") or {}
    batteries = [
        {**b, "wear_percent": grading.battery_wear(b)} for b in hardware.get("battery") or []
    ]
    return {
        "known": bool(hardware),
        "system": hardware.get("system") or {},
        "disks": hardware.get("disks") or [],
        "batteries": batteries,
    }


@get("/d/{tag:str}", opt={"roles": STAFF}, include_in_schema=False)
async def device_page(request: Request, tag: FromPath[str]) -> Template:
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
        .order_by(SanitizationRecord._meta.primary_key, ascending=False)
    )
    loans = (
        await LoanDevice.select(
            LoanDevice.loan,
            LoanDevice.out_at,
            LoanDevice.returned_at,
            LoanDevice.outcome,
            LoanDevice.loan.status,
            LoanDevice.loan._.borrower._.code,
        )
        .where(LoanDevice.device == device["id"])
        .order_by(LoanDevice._meta.primary_key, ascending=False)
    )
    return Template(
        "device.html",
        context={
            "device": device,
            "hardware": hardware_view(device),
            "suggestion": grading.suggest_for(device),
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
    request: Request, tag: FromPath[str], data: URLEncodedBody[dict[str, Any]]
) -> Redirect | Template:
    """The no-JavaScript path of the device card's buttons: the API's command and service."""
    try:
        command = form_to(TransitionIn, data)
        device = await devices.transition_device(tag, command, request.user.actor)
    except (DomainError, TagError) as error:
        return Template(
            "error.html",
            context={"message": str(error)},
            status_code=409 if isinstance(error, Conflict) else 422,
        )
    return Redirect(f"/d/{device.asset_tag}", status_code=303)
