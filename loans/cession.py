"""A device given or sold to a member ("céder"): it leaves the fleet with that person.

The move is the lifecycle's `retire` (given or sold: wiped first), its event carrying the
recipient's code, the price in cents and the programme. A device that came from a public body
(REEN law, décret 2023-266) may be sold only up to a legal cap per kind: above it, the sale is not
refused but warned about, before confirming on the page, in the API's answer and in the event.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.errors import FieldInvalid, Invalid
from inventory.states import N_, DeviceKind, DonorKind, RetirementReason
from inventory.tables import Device, Donation, Donor
from loans.tables import Borrower, Loan

MAX_PRICE_CENTS = 1_000_000_00
# Legal caps on the sale of devices from public bodies, by kind (a desktop with its screen).
PUBLIC_CAPS_CENTS = {
    DeviceKind.laptop: 180_00,
    DeviceKind.desktop: 150_00,
    DeviceKind.all_in_one: 150_00,
    DeviceKind.tablet: 100_00,
}


class CessionKind(StrEnum):
    given = "given"
    sold = "sold"


CESSION_LABELS = {
    CessionKind.given: N_("Donné à un adhérent"),
    CessionKind.sold: N_("Vendu à un adhérent"),
}


class CessionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Give or sell a device to a member (POST /api/v1/loans/cessions, the loan page)."""

    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    kind: CessionKind
    borrower_code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    price_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_CENTS)] = 0
    programme_id: int | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    version: int | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "tag": "Appareil cédé",
        "kind": "Cession",
        "borrower_code": "Adhérent (code emprunteur)",
        "price_cents": "Prix (centimes)",
        "programme_id": "Programme",
        "note": "Remarque",
        "version": "Version",
    }


class CessionOut(msgspec.Struct):
    """The device as it now stands, and the cap warning if there was one."""

    asset_tag: str
    state: str
    kind: str
    borrower_code: str
    price_cents: int
    warning: str = ""


EUROS = re.compile(r"^(?P<units>\d{1,9})(?:[.,](?P<cents>\d{1,2}))?$")


def euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def price_cents(text: str) -> int:
    """A price typed in euros ("150", "150,50 €") as cents; empty is 0; a negative or odd
    amount is refused naming the field."""
    compact = re.sub(r"[\s\u00a0\u202f€]", "", text)
    if not compact:
        return 0
    match = EUROS.match(compact)
    if match is None:
        raise FieldInvalid(
            "price_cents", "Prix : un montant positif en euros, par exemple 150 ou 150,50."
        )
    return int(match.group("units")) * 100 + int((match.group("cents") or "0").ljust(2, "0"))


def check(data: CessionIn) -> CessionIn:
    """The cession as it will be recorded: a sale has a price, a gift none."""
    data = checked(data)
    if data.kind == CessionKind.sold and data.price_cents <= 0:
        raise FieldInvalid("price_cents", "Une vente se fait à un prix : indiquez-le en euros.")
    if data.kind == CessionKind.given and data.price_cents:
        raise FieldInvalid("price_cents", "Un don se fait sans prix : videz le prix ou vendez.")
    return msgspec.structs.replace(
        data, borrower_code=data.borrower_code.strip().upper(), note=data.note.strip()
    )


async def _donor_kind(device_id: int) -> str | None:
    row = await Device.select(Device.donation).where(Device.id == device_id).first()
    if row is None or row["donation"] is None:
        return None
    donation = await Donation.select(Donation.donor).where(Donation.id == row["donation"]).first()
    if donation is None:
        return None
    donor = await Donor.select(Donor.kind).where(Donor.id == donation["donor"]).first()
    return donor["kind"] if donor else None


async def cap_warning(device: dict[str, Any], price_cents: int) -> tuple[str, int | None]:
    """The sentence warning that a public body's device is sold above its legal cap, and the
    cap; ("", cap) when within it or when no cap applies."""
    kind = DeviceKind(device["kind"])
    cap = PUBLIC_CAPS_CENTS.get(kind)
    if cap is None or await _donor_kind(device["id"]) != DonorKind.public_body:
        return "", None
    if price_cents <= cap:
        return "", cap
    return (
        f"Attention : {device['asset_tag']} vient d'un organisme public ; le prix de "
        f"{euros(price_cents)} dépasse le plafond légal de {euros(cap)} pour ce type d'appareil "
        "(décret 2023-266)."
    ), cap


async def preview(data: CessionIn) -> str:
    """The warning the page shows before confirming (empty if none); writes nothing."""
    data = check(data)
    device = await devices.get_device(data.tag)
    warning, _cap = await cap_warning(device, data.price_cents)
    return warning


async def _recipient(code: str) -> dict[str, Any]:
    row = await (
        Borrower.select(Borrower.id, Borrower.code, Borrower.anonymised_at)
        .where(Borrower.code == code)
        .first()
    )
    if row is None:
        raise FieldInvalid("borrower_code", f"Aucun adhérent ne porte le code {code}.")
    if row["anonymised_at"] is not None:
        raise Invalid("Les données de cet adhérent ont été effacées : créez une nouvelle fiche.")
    return row


async def _programme_of(borrower_id: int) -> int | None:
    """The programme of the borrower's latest loan, if any."""
    row = await (
        Loan.select(Loan.programme)
        .where(Loan.borrower == borrower_id)
        .order_by(Loan.opened_at, ascending=False)
        .first()
    )
    return row["programme"] if row else None


async def cede(data: CessionIn, actor: str) -> CessionOut:
    """Give or sell the device to the member; the `retire` event carries the facts."""
    data = check(data)
    async with write_transaction(Device):
        device = await devices.get_device(data.tag)
        recipient = await _recipient(data.borrower_code)
        programme_id = data.programme_id or await _programme_of(recipient["id"])
        warning, cap = await cap_warning(device, data.price_cents)
        details: dict[str, Any] = {
            "recipient_code": recipient["code"],
            "price_cents": data.price_cents,
            "programme_id": programme_id,
            "cession": True,
        }
        if cap is not None:
            details["public_cap_cents"] = cap
        if warning:
            details["over_public_cap"] = True
            details["warning"] = warning
        row = await devices.apply_transition(
            device["asset_tag"],
            "retire",
            actor,
            reason=str(RetirementReason(str(data.kind))),
            note=data.note,
            expected_version=data.version,
            details=details,
        )
    return CessionOut(
        asset_tag=row["asset_tag"],
        state=row["state"],
        kind=str(data.kind),
        borrower_code=recipient["code"],
        price_cents=data.price_cents,
        warning=warning,
    )
