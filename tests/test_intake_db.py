"""Intake: donations allocate unique, sequential, checkable tags, even when intakes race."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from inventory import intake
from inventory.errors import Invalid
from inventory.tables import Device, Donation, Event
from inventory.tags import parse_tag
from tests.support import new_donation, run

pytestmark = pytest.mark.db


def test_a_donation_registers_its_devices_with_events(db: None) -> None:
    tags = run(new_donation(5))
    assert len(set(tags)) == 5
    assert [parse_tag(t).number for t in tags] == [1, 2, 3, 4, 5]
    assert run(Device.count().where(Device.state == "received")) == 5
    assert run(Event.count().where(Event.kind == "registered")) == 5


def test_racing_intakes_never_share_a_tag(db: None) -> None:
    run(new_donation(1))

    async def race() -> list[list[str]]:
        return await asyncio.gather(*[new_donation(7) for _ in range(8)])

    lots = run(race())
    tags = [t for lot in lots for t in lot]
    assert len(tags) == len(set(tags)) == 56
    numbers = sorted(parse_tag(t).number for t in tags)
    assert numbers == list(range(2, 58))
    for lot in lots:  # each lot's numbers are consecutive
        lot_numbers = [parse_tag(t).number for t in lot]
        assert lot_numbers == list(range(lot_numbers[0], lot_numbers[0] + 7))


def test_bad_donations_change_nothing(db: None) -> None:
    site = run(intake.create_site("Atelier"))
    donor = run(intake.create_donor("ACME", "company"))
    cases = [
        ({"donor_id": 999}, "Donateur 999 inconnu"),
        ({"site_id": 999}, "Site 999 inconnu"),
        ({"devices": []}, "de 1 à"),
        ({"devices": [intake.DeviceSpec(kind="toaster")]}, "Type d'appareil inconnu"),
        ({"received_on": date.today() + timedelta(days=3)}, "futur"),
    ]
    for override, message in cases:
        arguments = {
            "donor_id": donor["id"],
            "site_id": site["id"],
            "received_on": date.today(),
            "devices": [intake.DeviceSpec()],
            "actor": "t",
            **override,
        }
        with pytest.raises(Invalid, match=message):
            run(intake.register_donation(**arguments))
    assert run(Donation.count()) == 0
    assert run(Device.count()) == 0


def test_donor_kind_and_names_are_checked(db: None) -> None:
    with pytest.raises(Invalid, match="Type de donateur"):
        run(intake.create_donor("X", "alien"))
    with pytest.raises(Invalid, match="obligatoire"):
        run(intake.create_donor("   ", "company"))
    run(intake.create_site("Atelier"))
    with pytest.raises(Invalid, match="existe déjà"):
        run(intake.create_site("Atelier"))
