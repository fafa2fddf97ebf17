"""Asset tags: format, check character, and the parser's refusals (invariant 5)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.tags import ALPHABET, AssetTag, TagError, TagMisread, format_tag, parse_tag


def test_format_and_parse_round_trip() -> None:
    tag = format_tag("RE", 123)
    assert tag.startswith("RE-000123-")
    assert parse_tag(tag) == AssetTag("RE", 123)


@pytest.mark.parametrize(
    "typed",
    [
        "{tag}",
        "  {tag}\n",
        "{lower}",
        "{compact}",
        "/d/{tag}",
        "https://atelier.example.org/d/{tag}",
        "http://127.0.0.1:8000/d/{tag}/",
    ],
)
def test_parser_accepts_what_scanners_type(typed: str) -> None:
    tag = format_tag("RE", 4567)
    code = typed.format(tag=tag, lower=tag.lower(), compact=tag.replace("-", ""))
    assert str(parse_tag(code)) == tag


def test_parser_undoes_a_qwerty_scanner_on_an_azerty_keyboard() -> None:
    tag = format_tag("RE", 1234)  # RE-001234-?
    qwerty_on_azerty = tag.translate(
        str.maketrans({"0": "à", "1": "&", "2": "é", "3": '"', "4": "'", "-": ")"})
    )
    assert qwerty_on_azerty != tag
    assert str(parse_tag(qwerty_on_azerty)) == tag


@given(number=st.integers(min_value=0, max_value=999_999), position=st.integers(0, 12))
def test_every_single_character_misread_is_refused(number: int, position: int) -> None:
    tag = format_tag("RE", number)
    compact = tag.replace("-", "")
    position %= len(compact)
    for replacement in ALPHABET:
        if replacement == compact[position]:
            continue
        misread = compact[:position] + replacement + compact[position + 1 :]
        with pytest.raises(TagError):
            parsed = parse_tag(misread)
            pytest.fail(f"{misread} parsed as {parsed} instead of being refused")


def test_a_wrong_check_character_is_called_a_misread_and_says_rescan() -> None:
    tag = format_tag("RE", 42)
    wrong = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    with pytest.raises(TagMisread, match="Rescannez"):
        parse_tag(wrong)


def test_adjacent_digit_swaps_are_mostly_caught() -> None:
    caught = total = 0
    for number in range(10_000, 12_000):
        digits = f"{number:06d}"
        for i in range(len(digits) - 1):
            if digits[i] == digits[i + 1]:
                continue
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            body = format_tag("RE", number)
            total += 1
            try:
                parse_tag(f"RE-{swapped}-{body[-1]}")
            except TagMisread:
                caught += 1
    assert caught / total > 0.95


@pytest.mark.parametrize("garbage", ["", "   ", "hello", "RE-12-3", "12345678", "/d/", "RE--1"])
def test_garbage_is_refused_with_a_sentence(garbage: str) -> None:
    with pytest.raises(TagError) as refusal:
        parse_tag(garbage)
    assert "scannez" in str(refusal.value).lower()
