"""Batch actions of the scan page, and devices registered with a pre-printed tag."""

from __future__ import annotations

import pytest

from inventory import batch, devices, intake
from inventory.errors import Conflict, Invalid
from inventory.tables import Donation, Event
from inventory.tags import TagError, format_tag, parse_tag
from tests.support import new_donation, run

pytestmark = pytest.mark.db


def test_set_site_and_audit_write_events_without_changing_state(db: None) -> None:
    (tag,) = run(new_donation())
    other = run(intake.create_site("Antenne"))
    device = run(batch.apply_batch_action(tag, "set_site", "t", site_id=other["id"]))
    assert device["site"] == other["id"] and device["state"] == "received"
    assert device["version"] == 2
    with pytest.raises(Conflict, match="déjà au site"):
        run(batch.apply_batch_action(tag, "set_site", "t", site_id=other["id"]))
    with pytest.raises(Invalid, match="Site 999 inconnu"):
        run(batch.apply_batch_action(tag, "set_site", "t", site_id=999))
    with pytest.raises(Invalid, match="site de destination"):
        run(batch.apply_batch_action(tag, "set_site", "t"))
    run(batch.apply_batch_action(tag, "audit", "t"))
    kinds = [e["kind"] for e in run(devices.device_events(device["id"]))]
    assert kinds == ["registered", "site_changed", "audited"]


def test_batch_transitions_and_unknown_actions(db: None) -> None:
    (tag,) = run(new_donation())
    assert run(batch.apply_batch_action(tag, "triage", "t"))["state"] == "to_wipe"
    with pytest.raises(Invalid, match="Action inconnue"):
        run(batch.apply_batch_action(tag, "explode", "t"))
    assert run(batch.apply_batch_action(tag, "lookup", "t"))["state"] == "to_wipe"


def test_a_pre_printed_tag_is_registered_and_the_sequence_skips_it(db: None) -> None:
    run(new_donation(2))
    donation = run(Donation.select(Donation.id).first())
    assert donation is not None
    donation_id = donation["id"]
    printed = format_tag("RE", 40)
    row = run(intake.register_tagged_device(printed, donation_id, intake.DeviceSpec(), "t"))
    assert row["asset_tag"] == printed
    assert run(Event.count().where(Event.device == row["id"])) == 1
    with pytest.raises(Conflict, match="déjà enregistrée"):
        run(intake.register_tagged_device(printed, donation_id, intake.DeviceSpec(), "t"))
    with pytest.raises(TagError):
        run(
            intake.register_tagged_device(printed[:-1] + "#", donation_id, intake.DeviceSpec(), "t")
        )
    with pytest.raises(Invalid, match="autre atelier"):
        run(
            intake.register_tagged_device(
                format_tag("ZZ", 3), donation_id, intake.DeviceSpec(), "t"
            )
        )
    later = run(new_donation(1))
    assert parse_tag(later[0]).number == 41
