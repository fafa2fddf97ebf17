"""Every (state, transition) pair of the lifecycle, allowed or refused, and every guard."""

from dataclasses import replace

import pytest

from inventory import lifecycle
from inventory.lifecycle import Facts, TransitionRefused, decide, replay
from inventory.states import DeviceState as S

# Written by hand from DESIGN section 2, independently of lifecycle.py: name -> (sources, target,
# the facts under which the transition must pass). Loan operations act for loan 7.
WIPED_AND_IMAGED = Facts(has_storage=True, disks_sanitized=True, image_verified=True)
NO_STORAGE = Facts(has_storage=False)
ON_LOAN = Facts(open_loan=7, acting_loan=7)
STORAGE_STATES = {S.received, S.to_wipe, S.wiped, S.imaged, S.ready, S.in_repair}
EXPECTED: dict[str, tuple[set[S], S, Facts]] = {
    "triage": ({S.received}, S.to_wipe, Facts()),
    "wipe_passed": ({S.to_wipe}, S.wiped, Facts(disks_sanitized=True)),
    "image_verified": ({S.wiped}, S.imaged, WIPED_AND_IMAGED),
    "qualify": ({S.imaged}, S.ready, WIPED_AND_IMAGED),
    "qualify_without_storage": ({S.received}, S.ready, NO_STORAGE),
    "rewipe": ({S.wiped, S.imaged, S.ready, S.in_repair}, S.to_wipe, Facts()),
    "checkout": ({S.ready}, S.loaned, Facts(charter_signed=True, acting_loan=7)),
    "return_end": ({S.loaned}, S.to_wipe, ON_LOAN),
    "return_without_storage": (
        {S.loaned},
        S.ready,
        replace(NO_STORAGE, open_loan=7, acting_loan=7),
    ),
    "repair_during_loan": ({S.loaned}, S.in_repair, ON_LOAN),
    "repair_in_workshop": ({S.ready}, S.in_repair, Facts()),
    "repaired_to_borrower": ({S.in_repair}, S.loaned, ON_LOAN),
    "repaired": ({S.in_repair}, S.ready, WIPED_AND_IMAGED),
    "swap_out": ({S.in_repair}, S.to_wipe, ON_LOAN),
    "retire": (STORAGE_STATES, S.retired, Facts(reason="parts")),
    "declare_lost": ({S.loaned, S.in_repair}, S.retired, replace(ON_LOAN, reason="stolen")),
}
# Invariant 8, by hand: what each transition does to the loan (None: not the loan's business).
LOAN_OPERATIONS = {
    "checkout": "opens",
    "return_end": "closes",
    "return_without_storage": "closes",
    "repair_during_loan": "keeps",
    "repaired_to_borrower": "keeps",
    "swap_out": "closes",
    "declare_lost": "closes",
}

PAIRS = [(state, name) for state in S for name in EXPECTED]


def test_the_table_names_every_transition() -> None:
    assert set(EXPECTED) == set(lifecycle.TRANSITIONS)
    assert {n: t.loan_effect for n, t in lifecycle.TRANSITIONS.items() if t.loan_effect} == (
        LOAN_OPERATIONS
    )


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=[f"{s}-{n}" for s, n in PAIRS])
def test_each_state_transition_pair(state: S, name: str) -> None:
    sources, target, facts = EXPECTED[name]
    if state in sources:
        assert decide(state, name, facts) == target
    else:
        with pytest.raises(TransitionRefused, match="impossible depuis"):
            decide(state, name, facts)


# The open-loan fact, for every (state, transition) pair allowed by the table above: who acts
# (the generic path, loan 7 itself, another loan 8) and which loan the device is on.
LOAN_SITUATIONS = {
    "free-generic": (None, None),
    "free-by-loan": (None, 7),
    "on-loan-generic": (7, None),
    "on-loan-by-its-loan": (7, 7),
    "on-loan-by-another": (7, 8),
}


def expected_under_loan(name: str, open_loan: int | None, acting: int | None) -> str | None:
    """None when allowed, else a fragment of the refusal, from DESIGN invariant 8."""
    effect = LOAN_OPERATIONS.get(name)
    if effect is not None and acting is None:
        return "appartient au prêt"
    if effect is None:
        return "seules les opérations du prêt" if open_loan is not None else None
    if effect == "opens":
        return "encore sur le prêt" if open_loan is not None else None
    if open_loan is None:
        return "Aucun prêt"
    return None if open_loan == acting else "pas sur celui-ci"


LOAN_CASES = [
    (state, name, situation)
    for name, (sources, _, _) in EXPECTED.items()
    for state in sorted(sources)
    for situation in LOAN_SITUATIONS
]


@pytest.mark.parametrize(
    ("state", "name", "situation"), LOAN_CASES, ids=[f"{s}-{n}-{w}" for s, n, w in LOAN_CASES]
)
def test_each_pair_knows_the_open_loan(state: S, name: str, situation: str) -> None:
    open_loan, acting = LOAN_SITUATIONS[situation]
    _, target, facts = EXPECTED[name]
    facts = replace(facts, open_loan=open_loan, acting_loan=acting)
    refusal = expected_under_loan(name, open_loan, acting)
    if refusal is None:
        assert decide(state, name, facts) == target
    else:
        with pytest.raises(TransitionRefused, match=refusal):
            decide(state, name, facts)


def test_open_loan_follows_the_loan_transitions() -> None:
    assert lifecycle.open_loan([]) is None
    assert lifecycle.open_loan([("registered", None), ("checkout", 4)]) == 4
    assert lifecycle.open_loan([("checkout", 4), ("repair_during_loan", 4)]) == 4
    assert (
        lifecycle.open_loan([("checkout", 4), ("repair_during_loan", 4), ("swap_out", 4)]) is None
    )
    assert lifecycle.open_loan([("checkout", 4), ("return_end", 4), ("checkout", 5)]) == 5
    # Events that are not loan transitions (proofs, check-ins) leave the loan as it is.
    assert lifecycle.open_loan([("checkout", 4), ("check_in", 4), ("disk_sanitized", None)]) == 4


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
    ("checkout", S.ready, Facts(charter_signed=False, acting_loan=7), "charte signée"),
    ("repair_during_loan", S.loaned, Facts(acting_loan=7), "Aucun prêt"),
    ("repaired_to_borrower", S.in_repair, Facts(acting_loan=7), "Aucun prêt"),
    ("repaired", S.in_repair, replace(WIPED_AND_IMAGED, open_loan=7), "page Retours"),
    ("repaired", S.in_repair, Facts(disks_sanitized=False), "effacement"),
    ("swap_out", S.in_repair, Facts(), "appartient au prêt"),
    ("retire", S.ready, Facts(reason=None), "Motif"),
    ("retire", S.ready, Facts(reason="lost"), "Motif"),
    ("retire", S.to_wipe, Facts(reason="given", disks_sanitized=False), "effacé"),
    ("retire", S.in_repair, Facts(reason="parts", open_loan=7), "seules les opérations"),
    ("declare_lost", S.loaned, replace(ON_LOAN, reason="parts"), "perdu ou volé"),
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
