"""Helpers for the membership, deposit and cession tests: a membership programme, ready devices
from a public donor, and the cleaning of the new tables (tests.support.TABLES does not list them
yet)."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from loans import programmes
from loans.memberships import Validity
from loans.tables import Deposit, Membership
from tests.support import run

T = TypeVar("T")


def must(row: T | None) -> T:
    """The row a test expects to exist."""
    assert row is not None
    return row


async def membership_programme(name: str = "Un ordinateur pour tous") -> dict:
    """The ALIS-style programme: a 35 € membership for the calendar year and a 50 € deposit."""
    command = programmes.ProgrammeIn(
        name=name,
        funder="Département",
        deposit_cents=50_00,
        membership_required=True,
        membership_fee_cents=35_00,
        membership_validity=Validity.calendar_year,
        imaging_profile="famille",
    )
    return await programmes.create(command, "coordinatrice")


async def public_devices(count: int = 1, kind: str = "laptop", actor: str = "test") -> list[str]:
    """`count` devices given by a public body, wiped, imaged and ready."""
    from inventory import devices, intake
    from inventory.tables import Device, Site

    site = await Site.select().first() or await intake.create_site("Atelier de test")
    donor = await intake.create_donor("Mairie de Villeurbanne", "public_body")
    lot = await intake.register_donation(
        donor_id=donor["id"],
        site_id=site["id"],
        received_on=date.today(),
        devices=[intake.DeviceSpec(kind=kind, brand="Dell", model="Latitude")] * count,
        actor=actor,
    )
    for tag in lot["tags"]:
        device = await devices.get_device(tag)
        await Device.update({Device.serial: f"PUB-{tag}"}).where(Device.id == device["id"])
        disk_id = await devices.add_disk(
            device["id"], model="SSD", serial=f"S-{tag}", size_bytes=128 * 10**9
        )
        await devices.apply_transition(tag, "triage", actor)
        await devices.record_disk_sanitized(disk_id, True, actor, {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", actor)
        await devices.record_image_verified(tag, True, actor, {"image": "test"})
        await devices.apply_transition(tag, "image_verified", actor)
        await devices.apply_transition(tag, "qualify", actor)
    return lot["tags"]


def audit_then_clean() -> None:
    """Self-audit now (the rows below are about to go), then delete memberships and deposits
    so the next test's clear_tables can delete loans and borrowers."""
    from web.selfcheck import audit

    violations = run(audit())
    assert not violations, [v.sentence for v in violations]
    clean()


def clean() -> None:
    """Delete memberships and deposits with their events (the next clear_tables would)."""
    from inventory.tables import Event
    from loans.memberships import DEPOSIT_EVENTS, MEMBERSHIP_EVENTS

    run(Event.delete().where(Event.kind.is_in([*MEMBERSHIP_EVENTS, *DEPOSIT_EVENTS])))
    run(Deposit.delete(force=True))
    run(Membership.delete(force=True))
