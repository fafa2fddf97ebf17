"""Label and handout services: read devices and sites, then render; CLI and pages call these.

A print request is one command, `LabelRequest`: the page converts its form into it, the command
line builds it from its options, both through `inventory.commands`, so both refuse the same
values with the same sentence. Rendering takes seconds of CPU: it is laid out in a renderer
process (`labels.pdf.render_pdf_async`), never on the event loop nor in one of its threads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.devices import get_device
from inventory.errors import FieldInvalid, Invalid, NotFound
from inventory.tables import Device, Donation, Site
from inventory.tags import parse_tag
from labels import handout, settings, sheets
from labels.layout import LabelItem
from labels.stocks import get_stock

_SEPARATORS = re.compile(r"[\s,;]+")
DEFAULT_STOCK = "l7160"


class LabelRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The command to print labels: a donation's, or the devices whose tags were typed or
    scanned (separated by commas, spaces or new lines), on a stock, from a position on a sheet
    already partly used."""

    field_labels: ClassVar[dict[str, str]] = {
        "donation": "Numéro de don",
        "tags": "Étiquettes",
        "stock": "Support",
        "start": "Position de départ",
    }

    # 0: no donation (a plain int, so that « abc » reads « un nombre entier est attendu »).
    donation: Annotated[int, msgspec.Meta(ge=0)] = 0
    tags: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    stock: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = DEFAULT_STOCK
    start: Annotated[int, msgspec.Meta(ge=1, le=999)] = 1

    def codes(self) -> list[str]:
        """The tags named, checked (TagError names a malformed one)."""
        return parse_tag_list(self.tags)


def parse_tag_list(text: str) -> list[str]:
    """Tags typed or scanned into one field, separated by commas, spaces or new lines."""
    codes = [code for code in _SEPARATORS.split(text or "") if code]
    return [str(parse_tag(code)) for code in codes]


async def _sites(ids: set[int]) -> dict[int, dict[str, Any]]:
    """Site rows by id."""
    if not ids:
        return {}
    rows = await Site.select().where(Site.id.is_in(sorted(ids)))
    return {row["id"]: row for row in rows}


async def _donation_sites(donation_ids: set[int]) -> dict[int, int]:
    """The site of each donation, for devices that have none of their own."""
    if not donation_ids:
        return {}
    rows = await Donation.select(Donation.id, Donation.site).where(
        Donation.id.is_in(sorted(donation_ids))
    )
    return {row["id"]: row["site"] for row in rows}


async def _items(devices: Sequence[dict[str, Any]], base_url: str) -> list[LabelItem]:
    """Label content for device rows, each with its site's settings."""
    by_donation = await _donation_sites({d["donation"] for d in devices if d["donation"]})
    site_ids = {d["site"] or by_donation.get(d["donation"]) for d in devices}
    sites = await _sites({i for i in site_ids if i})
    configs: dict[int | None, Any] = {}
    items = []
    for device in devices:
        site_id = device["site"] or by_donation.get(device["donation"])
        if site_id not in configs:
            configs[site_id] = settings.label_config(
                sites.get(site_id) if site_id else None, base_url
            )
        items.append(
            LabelItem(
                tag=device["asset_tag"],
                brand=device["brand"],
                model=device["model"],
                cpu=device["cpu"],
                ram_mb=device["ram_mb"] or 0,
                storage=device["storage_summary"],
                config=configs[site_id],
            )
        )
    return items


async def items_for_donation(donation_id: int, base_url: str) -> list[LabelItem]:
    """Every device of a donation, in tag order."""
    if not await Donation.exists().where(Donation.id == donation_id):
        raise NotFound(f"Aucun don n° {donation_id}.")
    devices = await Device.select().where(Device.donation == donation_id).order_by(Device.id)
    if not devices:
        raise Invalid(f"Le don n° {donation_id} ne compte aucun appareil.")
    return await _items(devices, base_url)


async def items_for_tags(codes: Sequence[str], base_url: str) -> list[LabelItem]:
    """The named devices, in the order given; unknown tags are all named in one message."""
    tags = [str(parse_tag(code)) for code in codes]
    if not tags:
        raise FieldInvalid("tags", "Donnez au moins une étiquette, ou un numéro de don.")
    if len(tags) > sheets.MAX_LABELS:
        raise FieldInvalid("tags", f"Au plus {sheets.MAX_LABELS} étiquettes par document.")
    rows = await Device.select().where(Device.asset_tag.is_in(sorted(set(tags))))
    found = {row["asset_tag"]: row for row in rows}
    missing = [tag for tag in tags if tag not in found]
    if missing:
        raise NotFound("Aucun appareil ne porte l'étiquette " + ", ".join(missing[:10]) + ".")
    return await _items([found[tag] for tag in tags], base_url)


async def labels_pdf(
    *,
    base_url: str,
    stock: str,
    donation: int | None = None,
    tags: Sequence[str] = (),
    start: int = 1,
) -> bytes:
    """One PDF of the labels of a donation or of a list of tags, from `start` on the sheet."""
    if (donation is None) == (not tags):
        raise FieldInvalid("donation", "Choisissez soit un don, soit une liste d'étiquettes.")
    chosen = get_stock(stock)
    sheets.check_start(chosen, start)
    if donation is not None:
        items = await items_for_donation(donation, base_url)
    else:
        items = await items_for_tags(tags, base_url)
    return await sheets.labels_pdf_async(items, chosen, start)


async def print_labels(request: LabelRequest, base_url: str) -> bytes:
    """The PDF a print request asks for (pages and the command line)."""
    return await labels_pdf(
        base_url=base_url,
        stock=request.stock,
        donation=request.donation or None,
        tags=request.codes(),
        start=request.start,
    )


async def handout_pdf(code: str) -> bytes:
    """The handout sheet of the device a scanned code names."""
    device = await get_device(code)
    site_id = device["site"]
    if site_id is None and device["donation"]:
        site_id = (await _donation_sites({device["donation"]})).get(device["donation"])
    site = (await _sites({site_id})).get(site_id) if site_id else None
    data = handout.HandoutData(
        tag=device["asset_tag"],
        kind=device["kind"],
        brand=device["brand"],
        model=device["model"],
        serial=device["serial"],
        cpu=device["cpu"],
        ram_mb=device["ram_mb"] or 0,
        storage=device["storage_summary"],
        site_name=(site or {}).get("name", ""),
        site_address=(site or {}).get("address", ""),
        site_phone=(site or {}).get("phone", ""),
        config=settings.handout_config(site),
    )
    return await handout.handout_pdf_async(data)
