"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable
from typing import NoReturn, TypeVar

T = TypeVar("T")

# Children first, so that deleting never trips a foreign key.
TABLES = [
    "funder_programme",
    "staff_role",
    "deployment_event",
    "deployment_job",
    "host_key",
    "image",
    "session_attendee",
    "mediation_session",
    "repair_ticket",
    "device_return",
    "signing_link",
    "signature",
    "deposit",
    "membership",
    "loan_device",
    "loan",
    "document",
    "charter",
    "programme",
    "borrower_contact",
    "borrower",
    "organisation",
    "sanitization_record",
    "event",
    "disk",
    "device",
    "donation",
    "donor",
    "site",
    "tag_counter",
    "login_failure",
    "api_token",
    "sessions",
    "piccolo_user",
]


def run(awaitable: Awaitable[T]) -> T:
    """Await on a fresh loop (coroutines and Piccolo queries): tests stay synchronous."""

    async def wait() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # Inside a running loop (Playwright's sync API keeps one): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()


async def clear_tables() -> None:
    from piccolo.engine import engine_finder
    from piccolo.engine.postgres import PostgresEngine

    engine = engine_finder()
    if isinstance(engine, PostgresEngine):
        await engine.run_ddl(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        return
    for table in TABLES:
        await engine.run_ddl(f"DELETE FROM {table}")


async def new_donation(count: int = 1, kind: str = "laptop", actor: str = "test") -> list[str]:
    """Register a donation of `count` devices (creating a site and a donor) and return the tags."""
    from datetime import date

    from inventory import intake
    from inventory.tables import Site

    site = await Site.select().first() or await intake.create_site("Atelier de test")
    donor = await intake.create_donor("Donateur de test", "company")
    lot = await intake.register_donation(
        donor_id=donor["id"],
        site_id=site["id"],
        received_on=date.today(),
        devices=[intake.DeviceSpec(kind=kind, brand="Lenovo", model="T470")] * count,
        actor=actor,
    )
    return lot["tags"]


async def ready_devices(count: int = 1, actor: str = "test") -> list[str]:
    """Register `count` laptops and take each through wipe and imaging to `ready`."""
    from inventory import devices
    from inventory.tables import Device

    tags = await new_donation(count, actor=actor)
    for tag in tags:
        device = await devices.get_device(tag)
        serial = "PF" + "".join(c for c in tag if c.isdigit())
        await Device.update({Device.serial: serial}).where(Device.id == device["id"])
        disk_id = await devices.add_disk(
            device["id"], model="SSD", serial=f"S-{tag}", size_bytes=128 * 10**9
        )
        await devices.apply_transition(tag, "triage", actor)
        await devices.record_disk_sanitized(disk_id, True, actor, {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", actor)
        await devices.record_image_verified(tag, True, actor, {"image": "test"})
        await devices.apply_transition(tag, "image_verified", actor)
        await devices.apply_transition(tag, "qualify", actor)
    return tags


CHARTER_TEXT = """# Charte de prêt

L'association prête un ordinateur **reconditionné** pour un usage familial.

- Je prends soin du matériel et de son chargeur.
- Je le rapporte pour toute panne : il est réparé sans frais.
"""


async def loan_setup(minor: bool = False, name: str = "Camille Durand") -> dict:
    """A charter in force, a programme and a household borrower, for loan tests."""
    from datetime import date, timedelta

    from loans import borrowers, charter
    from loans.tables import Charter, Programme

    if not await Charter.exists():
        await charter.create_version(
            "Charte de prêt", CHARTER_TEXT, date.today() - timedelta(days=1), "test"
        )
    programme = await Programme.select().first().output(load_json=True)
    programme = programme or await borrowers.create_programme("Programme de test", "Département")
    borrower = await borrowers.create_borrower(
        borrowers.BorrowerIn(
            full_name=name,
            email="camille.durand@example.org",
            phone="06 12 34 56 78",
            address="12 rue des Lilas, 69008 Lyon",
            guardian_name="Dominique Durand" if minor else "",
            commune="Lyon",
            insee_code="69123",
            qpv_resident=True,
            children_count=2,
            is_minor=minor,
        )
    )
    return {"programme": programme, "borrower": borrower}


def signature_png() -> bytes:
    """A small drawn signature, as the tablet's canvas would send it."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 100), (80, 20), (150, 90), (290, 30)], fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def unavailable(reason: str) -> NoReturn:
    """A missing tool or kernel feature: skip on a developer's machine, fail under CI=true."""
    import os

    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)
