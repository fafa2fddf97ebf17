"""Every (state, transition) pair of the lifecycle, allowed or refused, and every guard."""

from dataclasses import replace

import pytest

from inventory import lifecycle
from inventory.lifecycle import Facts, TransitionRefused, decide, replay
from inventory.states import DeviceState as S

# Written by hand from DESIGN section 2, independently of lifecycle.py: name -> (sources, target,
# the facts under which the transition must pass).
WIPED_AND_IMAGED = Facts(has_storage=True, disks_sanitized=True, image_verified=True)
NO_STORAGE = Facts(has_storage=False)
STORAGE_STATES = {S.received, S.to_wipe, S.wiped, S.imaged, S.ready, S.in_repair}
EXPECTED: dict[str, tuple[set[S], S, Facts]] = {
    "triage": ({S.received}, S.to_wipe, Facts()),
    "wipe_passed": ({S.to_wipe}, S.wiped, Facts(disks_sanitized=True)),
    "image_verified": ({S.wiped}, S.imaged, WIPED_AND_IMAGED),
    "qualify": ({S.imaged}, S.ready, WIPED_AND_IMAGED),
    "qualify_without_storage": ({S.received}, S.ready, NO_STORAGE),
    "rewipe": ({S.wiped, S.imaged, S.ready}, S.to_wipe, Facts()),
    "checkout": ({S.ready}, S.loaned, Facts(charter_signed=True)),
    "return_end": ({S.loaned}, S.to_wipe, Facts(loan_open=True)),
    "return_without_storage": ({S.loaned}, S.ready, replace(NO_STORAGE, loan_open=True)),
    "repair_during_loan": ({S.loaned}, S.in_repair, Facts(loan_open=True)),
    "repair_in_workshop": ({S.ready}, S.in_repair, Facts()),
    "repaired_to_borrower": ({S.in_repair}, S.loaned, Facts(loan_open=True)),
    "repaired": ({S.in_repair}, S.ready, WIPED_AND_IMAGED),
    "swap_out": ({S.in_repair}, S.to_wipe, Facts()),
    "retire": (STORAGE_STATES, S.retired, Facts(reason="parts")),
    "declare_lost": ({S.loaned, S.in_repair}, S.retired, Facts(reason="stolen")),
}

PAIRS = [(state, name) for state in S for name in EXPECTED]


def test_the_table_names_every_transition() -> None:
    assert set(EXPECTED) == set(lifecycle.TRANSITIONS)


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=[f"{s}-{n}" for s, n in PAIRS])
def test_each_state_transition_pair(state: S, name: str) -> None:
    sources, target, facts = EXPECTED[name]
    if state in sources:
        assert decide(state, name, facts) == target
    else:
        with pytest.raises(TransitionRefused, match="impossible depuis"):
            decide(state, name, facts)


def test_retired_is_final() -> None:
    assert lifecycle.allowed(S.retired, WIPED_AND_IMAGED) == []


def test_unknown_transition_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="inconnue"):
        decide(S.received, "teleport", Facts())


# Each guard, refused with a sentence when its fact is missing (invariant 1 and friends).
GUARD_CASES = [
    ("triage", S.received, NO_STORAGE, "pas de stockage"),
    ("wipe_passed", S.to_wipe, Facts(disks_sanitized=False), "effacement réussi"),
    ("image_verified", S.wiped, Facts(disks_sanitized=True), "installation vérifiée"),
    ("qualify", S.imaged, Facts(disks_sanitized=False, image_verified=True), "effacement"),
    ("qualify", S.imaged, Facts(disks_sanitized=True, image_verified=False), "installation"),
    ("qualify_without_storage", S.received, Facts(), "doit être effacé"),
    ("checkout", S.ready, Facts(charter_signed=False), "charte signée"),
    ("repair_during_loan", S.loaned, Facts(loan_open=False), "Aucun prêt"),
    ("repaired_to_borrower", S.in_repair, Facts(loan_open=False), "Aucun prêt"),
    ("repaired", S.in_repair, replace(WIPED_AND_IMAGED, loan_open=True), "prêt est encore"),
    ("repaired", S.in_repair, Facts(disks_sanitized=False), "effacement"),
    ("swap_out", S.in_repair, Facts(loan_open=True), "prêt est encore"),
    ("retire", S.ready, Facts(reason=None), "Motif"),
    ("retire", S.ready, Facts(reason="lost"), "Motif"),
    ("retire", S.to_wipe, Facts(reason="given", disks_sanitized=False), "effacé"),
    ("retire", S.in_repair, Facts(reason="parts", loan_open=True), "prêt est encore"),
    ("declare_lost", S.loaned, Facts(reason="parts"), "perdu ou volé"),
]


@pytest.mark.parametrize(("name", "state", "facts", "sentence"), GUARD_CASES)
def test_guards_refuse_with_a_sentence(name: str, state: S, facts: Facts, sentence: str) -> None:
    with pytest.raises(TransitionRefused, match=sentence):
        decide(state, name, facts)


def test_a_given_device_without_storage_needs_no_wipe() -> None:
    assert decide(S.received, "retire", Facts(has_storage=False, reason="given")) == S.retired


def test_replay_folds_to_states() -> None:
    assert replay([]) is None
    assert replay(["received", None, "to_wipe", None]) == S.to_wipe
