"""The scrubbing rules of erasure (loans/identifiers.py): what matches, what does not."""

from __future__ import annotations

from loans import identifiers
from loans.identifiers import MARKER, Identifiers, pattern, scrub, scrub_json


def person() -> Identifiers:
    who = Identifiers()
    who.add_name("Philomène Quesnoy-Arbaud")
    who.add_phone("07 48 93 15 62")
    who.add_text("philomene.quesnoy@example.org")
    who.add_text("PV 2026/77")
    who.add_address("3 impasse des Glycines, 69100 Villeurbanne")
    return who


def test_name_and_parts_match_across_case_and_accents() -> None:
    found = pattern(person())
    assert scrub("Remis à PHILOMENE Quesnoy-Arbaud.", found) == f"Remis à {MARKER}."
    assert scrub("dit Philomene, puis Arbaud", found) == f"dit {MARKER}, puis {MARKER}"
    # Word edges: a part inside another word stays.
    assert scrub("Quesnoyville", found) == "Quesnoyville"


def test_phone_matches_in_any_spacing() -> None:
    found = pattern(person())
    for written in (
        "0748931562",
        "07.48.93.15.62",
        "07-48-93-15-62",
        "+33 7 48 93 15 62",
        "+33 (0)7 48 93 15 62",
        "0033 748931562",
    ):
        assert scrub(f"tél. {written} !", found) == f"tél. {MARKER} !", written
    # Longer digit runs are another number.
    assert scrub("série 907489315620", found) == "série 907489315620"


def test_strong_identifiers_only_leave_name_parts() -> None:
    found = pattern(person(), with_parts=False)
    assert scrub("Philomène Quesnoy-Arbaud", found) == MARKER
    assert scrub("Mme Arbaud", found) == "Mme Arbaud"
    assert scrub("plainte PV 2026/77.", found) == f"plainte {MARKER}."
    assert scrub("rue : 3 impasse des Glycines", found) == f"rue : {MARKER}"


def test_json_keeps_structure_and_drops_personal_keys() -> None:
    found = pattern(person())
    payload = {"reason": "stolen", "police_report": "PV 2026/77", "note": "Plainte PV 2026/77"}
    assert scrub_json(payload, found, {"police_report"}) == {
        "reason": "stolen",
        "note": f"Plainte {MARKER}",
    }
    assert scrub_json(["chargeur", "sac de Philomène"], found) == ["chargeur", f"sac de {MARKER}"]


def test_short_or_empty_values_give_no_pattern() -> None:
    who = Identifiers()
    who.add_name("Li")
    who.add_phone("12")
    who.add_text(identifiers.MARKER)
    assert not who and pattern(who) is None
    assert scrub("Li 12", None) == "Li 12"
