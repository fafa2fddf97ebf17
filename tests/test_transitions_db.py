"""The transition service on a real database: events, optimistic locking, replay (inv. 3, 7)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import devices, lifecycle
from inventory.errors import Conflict
from inventory.lifecycle import replay
from inventory.tables import Device, Event
from tests.support import new_donation, run

pytestmark = pytest.mark.db


async def _state_and_replay(tag: str) -> tuple[str, str | None, int, int]:
    device = await devices.get_device(tag)
    events = await devices.device_events(device["id"])
    transitions = [e for e in events if e["payload"].get("transition")]
    return (
        device["state"],
        replay(e["to_state"] for e in events),
        device["version"],
        len(transitions),
    )


def test_a_transition_writes_its_event(db: None) -> None:
    (tag,) = run(new_donation())
    device = run(devices.apply_transition(tag, "triage", "alice", note="écran fêlé"))
    assert device["state"] == "to_wipe" and device["version"] == 2
    events = run(devices.device_events(device["id"]))
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in events] == [
        ("registered", None, "received"),
        ("triage", "received", "to_wipe"),
    ]
    assert events[-1]["actor"] == "alice"
    assert events[-1]["payload"] == {"transition": "triage", "note": "écran fêlé"}


def test_a_refused_transition_changes_nothing(db: None) -> None:
    (tag,) = run(new_donation())
    with pytest.raises(Conflict, match="impossible depuis l'état « Reçu »"):
        run(devices.apply_transition(tag, "qualify", "alice"))
    run(devices.apply_transition(tag, "triage", "alice"))
    with pytest.raises(Conflict, match="effacement réussi"):
        run(devices.apply_transition(tag, "wipe_passed", "alice"))
    assert run(_state_and_replay(tag)) == ("to_wipe", "to_wipe", 2, 1)
    assert run(Event.count()) == 2


def test_domain_transitions_are_refused_on_the_generic_path(db: None) -> None:
    (tag,) = run(new_donation(kind="screen"))
    run(devices.apply_transition(tag, "qualify_without_storage", "alice"))
    with pytest.raises(Conflict, match="appartient au prêt : passez par l'écran de prêt"):
        run(devices.apply_transition(tag, "checkout", "alice"))
    assert run(_state_and_replay(tag))[0] == "ready"


@pytest.mark.breaks_invariants(reason="the inventory alone, on loan n° 4 that no Loan row backs")
def test_a_device_on_an_open_loan_leaves_repair_only_through_its_loan(db: None) -> None:
    (tag,) = run(new_donation(kind="screen"))
    run(devices.apply_transition(tag, "qualify_without_storage", "alice"))
    signed = {"charter_signed": True}
    run(devices.apply_transition(tag, "checkout", "m", domain_facts=signed, loan_id=4))
    run(devices.apply_transition(tag, "repair_during_loan", "m", loan_id=4))
    for generic in ("repaired", "rewipe", "retire"):
        with pytest.raises(Conflict, match="prêt n° 4 .* page Retours"):
            run(devices.apply_transition(tag, generic, "alice", reason="parts"))
    with pytest.raises(Conflict, match="pas sur celui-ci"):
        run(devices.apply_transition(tag, "repaired_to_borrower", "m", loan_id=5))
    assert "repaired" not in run(devices.generic_transitions(run(devices.get_device(tag))))
    assert run(devices.apply_transition(tag, "repaired_to_borrower", "m", loan_id=4))["state"] == (
        "loaned"
    )


def test_a_stale_version_is_a_conflict(db: None) -> None:
    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "alice", expected_version=1))
    with pytest.raises(Conflict, match="changé entre-temps"):
        run(devices.apply_transition(tag, "rewipe", "bob", expected_version=1))


def test_full_workshop_path_needs_its_proofs(db: None) -> None:
    (tag,) = run(new_donation())
    device = run(devices.get_device(tag))
    disk = run(devices.add_disk(device["id"], model="M", serial="S", size_bytes=10**9))
    run(devices.apply_transition(tag, "triage", "t"))
    run(devices.record_disk_sanitized(disk, False, "t", {"method": "clear"}))
    with pytest.raises(Conflict):
        run(devices.apply_transition(tag, "wipe_passed", "t"))
    run(devices.record_disk_sanitized(disk, True, "t", {"method": "clear"}))
    run(devices.apply_transition(tag, "wipe_passed", "t"))
    with pytest.raises(Conflict):
        run(devices.apply_transition(tag, "image_verified", "t"))
    run(devices.record_image_verified(tag, True, "t", {"image": "debian-13"}))
    run(devices.apply_transition(tag, "image_verified", "t"))
    assert run(devices.apply_transition(tag, "qualify", "t"))["state"] == "ready"
    # A loan's end is a custody change: the same proofs no longer count.
    signed = {"charter_signed": True}
    run(devices.apply_transition(tag, "checkout", "m", domain_facts=signed, loan_id=1))
    run(devices.apply_transition(tag, "return_end", "m", loan_id=1))
    run(devices.record_image_verified(tag, True, "t", {"image": "debian-13"}))
    with pytest.raises(Conflict, match="effacement"):
        run(devices.apply_transition(tag, "wipe_passed", "t"))


def test_concurrent_transitions_have_one_winner(db: None) -> None:
    (tag,) = run(new_donation())

    async def race() -> list[object]:
        attempts = [devices.apply_transition(tag, "triage", f"user{i}") for i in range(10)]
        return await asyncio.gather(*attempts, return_exceptions=True)

    outcomes = run(race())
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, dict))
    assert run(_state_and_replay(tag)) == ("to_wipe", "to_wipe", 2, 1)


ACTIONS = st.one_of(
    st.tuples(
        st.just("transition"),
        st.sampled_from(sorted(lifecycle.TRANSITIONS)),
        st.sampled_from([None, "parts", "given", "lost", "stolen", "recycled_weee"]),
        st.sampled_from([None, 1, 2]),
        st.booleans(),
    ),
    st.tuples(st.just("sanitize"), st.booleans()),
    st.tuples(st.just("image"), st.booleans()),
)


@pytest.mark.breaks_invariants(
    reason="the inventory alone: loan ids 1 and 2 that no Loan row backs"
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(ACTIONS, min_size=1, max_size=20), kind=st.sampled_from(["laptop", "screen"]))
def test_stored_state_always_equals_the_replay_of_events(db: None, steps: list, kind: str) -> None:
    (tag,) = run(new_donation(kind=kind))
    device_id = run(devices.get_device(tag))["id"]
    disk = (
        run(devices.add_disk(device_id, model="M", serial="S", size_bytes=1))
        if kind == "laptop"
        else None
    )
    for step in steps:
        before = run(Event.count().where(Event.device == device_id))
        succeeded = True
        try:
            if step[0] == "transition":
                _, name, reason, loan_id, signed = step
                run(
                    devices.apply_transition(
                        tag,
                        name,
                        "prop",
                        reason=reason,
                        domain_facts={"charter_signed": signed},
                        loan_id=loan_id,
                    )
                )
            elif step[0] == "sanitize" and disk is not None:
                run(devices.record_disk_sanitized(disk, step[1], "prop", {}))
            elif step[0] == "image":
                run(devices.record_image_verified(tag, step[1], "prop", {}))
            else:
                succeeded = False
        except Conflict:
            succeeded = False
        after = run(Event.count().where(Event.device == device_id))
        assert after == before + (1 if succeeded else 0)
        state, replayed, version, transitions = run(_state_and_replay(tag))
        assert state == replayed
        assert version == 1 + transitions
    assert run(Device.count().where(Device.id == device_id)) == 1
