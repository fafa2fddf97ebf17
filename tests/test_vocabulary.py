"""Every identifier a service stores has words for people, in French and in English."""

from __future__ import annotations

import ast
from pathlib import Path

from inventory import history
from inventory.lifecycle import TRANSITIONS
from inventory.states import DeviceKind, DeviceState, Grade, RetirementReason, Transport
from loans import mediation, repairs, returns
from provisioning.tables import MethodType, Status
from web.formatting import label
from web.i18n import catalog, current_language
from web.roles import Role
from web.vocabulary import LABELS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("inventory", "loans", "provisioning", "web", "labels")


def written_event_kinds() -> set[str]:
    """The kinds passed to `write_event` (and `archive_row`) anywhere in the code."""
    kinds = set(TRANSITIONS) | {history.REGISTERED, history.DISK_SANITIZED, history.IMAGE_VERIFIED}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            constants = {
                target.id: node.value.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                position = {"write_event": 2, "archive_row": 3}.get(name or "")
                if position is None or len(node.args) <= position:
                    continue
                kind = node.args[position]
                options = [kind.body, kind.orelse] if isinstance(kind, ast.IfExp) else [kind]
                for option in options:
                    if isinstance(option, ast.Constant):
                        kinds.add(option.value)
                    elif isinstance(option, ast.Name) and option.id in constants:
                        kinds.add(constants[option.id])
    return kinds


def test_every_event_kind_has_words() -> None:
    kinds = written_event_kinds()
    assert len(kinds) > 30
    missing = sorted(kinds - LABELS["event"].keys())
    assert not missing, f"add to web/vocabulary.py EVENTS: {missing}"


def test_every_stored_value_has_words() -> None:
    expected = {
        "state": {s.value for s in DeviceState},
        "device_kind": {k.value for k in DeviceKind},
        "grade": {g.value for g in Grade},
        "transport": {t.value for t in Transport},
        "retirement_reason": {r.value for r in RetirementReason},
        "return_reason": set(returns.REASONS),
        "repair_outcome": set(repairs.OUTCOMES),
        "session_status": set(mediation.STATUSES),
        "place_type": set(mediation.PLACE_TYPES),
        "autonomy": set(mediation.AUTONOMY),
        "theme": set(mediation.THEMES),
        "record_outcome": {s.value for s in Status},
        "wipe_method": {m.value for m in MethodType},
        "role": {r.value for r in Role},
    }
    for vocabulary, values in expected.items():
        missing = values - LABELS[vocabulary].keys()
        assert not missing, f"{vocabulary}: {sorted(missing)}"


def test_every_word_has_its_english() -> None:
    english = catalog("en")
    missing = sorted(
        {words for vocabulary in LABELS.values() for words in vocabulary.values()} - english.keys()
    )
    assert not missing, f"/tmp/po_add.py 'French' 'English' for: {missing[:10]}"


def test_label_translates_and_leaves_unknown_values() -> None:
    assert label("repair_during_loan", "event") == "En réparation pendant le prêt"
    assert label(DeviceState.ready, "state") == "Prêt"
    assert label("inconnu", "event") == "inconnu"
    assert label(None, "event") == ""
    token = current_language.set("en")
    try:
        assert label("stolen", "return_reason") == "Stolen"
    finally:
        current_language.reset(token)
