"""A person's known identifiers and how to scrub them out of free text (docs/privacy.md).

Pure functions: the erasure gathers the identifiers, these rules build one pattern per person
and replace every match with a marker. Matching ignores case, accents and the spacing of phone
numbers, so "Philomene", "PHILOMÈNE" and "07.48.93.15.62" all go.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MARKER = "[anonymisé]"
MIN_PART = 3  # name parts shorter than this ("Le", "Di") are too common to scrub
MIN_DIGITS = 6  # fewer digits than this is not a phone number
SEPARATORS = r"[\s.\-/()]*"
NAME_PARTS = re.compile(r"[^\W\d_]+")
ACCENTS = {
    "a": "aàâäáãå",
    "c": "cç",
    "e": "eéèêë",
    "i": "iîïíì",
    "n": "nñ",
    "o": "oôöóòõ",
    "u": "uùûüú",
    "y": "yÿý",
}


@dataclass
class Identifiers:
    """What a person is known by: `strong` values name them alone, `parts` are their name parts."""

    strong: set[str] = field(default_factory=set)
    parts: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    def add_name(self, name: str) -> None:
        name = " ".join((name or "").split())
        if len(name) < MIN_PART or name == MARKER:
            return
        self.strong.add(name)
        self.parts.update(p for p in NAME_PARTS.findall(name) if len(p) >= MIN_PART)

    def add_text(self, value: str) -> None:
        """An e-mail, a police reference, an address (whole, and each of its lines)."""
        value = " ".join((value or "").split())
        if len(value) >= MIN_PART and value != MARKER:
            self.strong.add(value)

    def add_address(self, address: str) -> None:
        self.add_text(address)
        for line in re.split(r"[,\n;]", address or ""):
            if len(line.strip()) >= 5:
                self.add_text(line)

    def add_phone(self, phone: str) -> None:
        if len(re.sub(r"\D", "", phone or "")) >= MIN_DIGITS:
            self.phones.add(phone)

    def __bool__(self) -> bool:
        return bool(self.strong or self.parts or self.phones)


def _letter(char: str) -> str:
    base = unicodedata.normalize("NFD", char)[0].lower()
    if base in ACCENTS:
        return f"[{ACCENTS[base]}]"
    if char.isspace():
        return r"\s+"
    return re.escape(char)


def _text_pattern(value: str) -> str:
    # Word edges only where the value starts or ends with a word character: "Durand" must not
    # eat "Durandal", but "PV 2026/77" still matches before a full stop.
    body = "".join(_letter(c) for c in value)
    start = r"(?<!\w)" if value[0].isalnum() else ""
    end = r"(?!\w)" if value[-1].isalnum() else ""
    return f"{start}{body}{end}"


def _phone_pattern(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+33") or digits.startswith("0033"):
        digits = "0" + digits[4 if digits.startswith("0033") else 2 :]
    if len(digits) == 10 and digits.startswith("0"):
        # French numbers are also written +33 6…, 0033 6… or +33 (0)6….
        prefix = r"(?:0|\+\s*33\s*(?:\(0\)\s*)?|0033\s*)"
        rest = SEPARATORS.join(digits[1:])
        return rf"(?<!\d){prefix}{SEPARATORS}{rest}(?!\d)"
    return rf"(?<!\d){SEPARATORS.join(digits)}(?!\d)"


def pattern(who: Identifiers, with_parts: bool = True) -> re.Pattern[str] | None:
    """One pattern for all of a person's identifiers, longest first; None when there are none.

    Without `with_parts`, only what names the person alone (full name, phone, e-mail, address,
    police reference): that is what scrubs text not linked to their loans.
    """
    values = set(who.strong) | (set(who.parts) if with_parts else set())
    choices = [_text_pattern(v) for v in sorted(values, key=len, reverse=True)]
    choices += [_phone_pattern(p) for p in sorted(who.phones)]
    if not choices:
        return None
    return re.compile("|".join(f"(?:{c})" for c in choices), re.IGNORECASE)


def scrub(text: str, found: re.Pattern[str] | None) -> str:
    """The text with every identifier replaced by the marker."""
    if not text or found is None:
        return text
    return found.sub(MARKER, text)


def scrub_json(value: Any, found: re.Pattern[str] | None, drop: Iterable[str] = ()) -> Any:
    """A JSON value with identifiers scrubbed from its strings and the `drop` keys removed."""
    dropped = set(drop)
    if isinstance(value, str):
        return scrub(value, found)
    if isinstance(value, list):
        return [scrub_json(v, found, dropped) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v, found, dropped) for k, v in value.items() if k not in dropped}
    return value
