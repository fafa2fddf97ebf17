"""Asset tags: format, check character, and the one parser for everything a scanner types.

A tag reads `RE-000123-K`: a prefix, a number, and a Luhn mod 36 check character that catches
every single-character misread and most swapped neighbours (invariant 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NUMBER_WIDTH = 6

# A QWERTY-configured USB scanner on a French AZERTY keyboard types the unshifted digit row.
_AZERTY_DIGITS = str.maketrans(
    {
        "à": "0",
        "&": "1",
        "é": "2",
        '"': "3",
        "'": "4",
        "(": "5",
        "-": "6",
        "è": "7",
        "_": "8",
        "ç": "9",
        ")": "-",
    }
)
_AZERTY_MARKERS = set("à&é\"'(è_ç)")

_TAG = re.compile(r"^([A-Z]{1,4})-?(\d{4,9})-?([0-9A-Z])$")


class TagError(ValueError):
    """A scanned or typed code that cannot be an asset tag; the message says what to do."""

    status_code: ClassVar[int] = 422


class TagMisread(TagError):
    """Well-formed but with a wrong check character: a misread, never another device's tag."""


@dataclass(frozen=True)
class AssetTag:
    prefix: str
    number: int

    def __str__(self) -> str:
        body = f"{self.prefix}{self.number:0{NUMBER_WIDTH}d}"
        return f"{self.prefix}-{self.number:0{NUMBER_WIDTH}d}-{check_character(body)}"


def check_character(body: str) -> str:
    """Luhn mod N over base 36 (ISO/IEC 7812 generalised) of the prefix and digits."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def format_tag(prefix: str, number: int) -> str:
    return str(AssetTag(prefix, number))


def parse_tag(code: str) -> AssetTag:
    """Accept a bare tag or a `/d/<tag>` URL as typed by a scanner; reject anything else clearly."""
    text = code.strip()
    if not text:
        raise TagError("Aucun code lu : scannez à nouveau.")
    if "/d/" in text:
        path = urlsplit(text).path if "://" in text else text
        text = path.rsplit("/d/", 1)[-1].strip("/")
    if _AZERTY_MARKERS & set(text):
        text = text.translate(_AZERTY_DIGITS)
    text = text.replace(" ", "").upper()
    match = _TAG.match(text)
    if not match:
        raise TagError(f"« {code.strip()[:40]} » n'est pas une étiquette Réemploi : rescannez.")
    prefix, digits, check = match.groups()
    if check_character(prefix + digits) != check:
        raise TagMisread(
            f"Étiquette mal lue (caractère de contrôle faux) : « {text} ». Rescannez l'étiquette."
        )
    return AssetTag(prefix, int(digits))
