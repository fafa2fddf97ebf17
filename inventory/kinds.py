"""The words people use for a kind of device, in donor sheets and on forms.

"PC portable", "Unité centrale", "Tour", "Écran"… are read case- and accent-insensitively; a word
that names no kind is refused with the list of accepted words.
"""

from __future__ import annotations

import unicodedata

from inventory.errors import Invalid
from inventory.states import KIND_LABELS_FR, DeviceKind

# Folded words (lower case, no accents, single spaces) -> kind; the labels count too.
WORDS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.laptop: (
        "PC portable",
        "ordinateur portable",
        "laptop",
        "ordi portable",
        "notebook",
        "netbook",
        "ultraportable",
        "Chromebook",
        "MacBook",
    ),
    DeviceKind.desktop: (
        "unité centrale",
        "tour",
        "PC fixe",
        "fixe",
        "UC",
        "PC de bureau",
        "ordinateur de bureau",
        "PC tour",
        "desktop",
        "mini PC",
    ),
    DeviceKind.all_in_one: ("tout en un", "PC tout-en-un", "all in one", "iMac"),
    DeviceKind.tablet: (
        "smartphone",
        "téléphone",
        "iPad",
        "tablet",
        "téléphone mobile",
        "mobile",
    ),
    DeviceKind.screen: ("moniteur", "écran PC", "monitor", "screen"),
    DeviceKind.dock: ("dock", "réplicateur de ports"),
    DeviceKind.other: ("divers", "other"),
}


def fold(text: object) -> str:
    """Lower case, accents removed, separators as single spaces: how words are compared."""
    folded = str(text or "")
    for mark in ("'", "’", "_", ".", "-"):
        folded = folded.replace(mark, " ")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode().lower()
    return " ".join(folded.split())


ALIASES: dict[str, DeviceKind] = {
    **{fold(word): kind for kind, words in WORDS.items() for word in words},
    **{fold(label): kind for kind, label in KIND_LABELS_FR.items()},
    **{kind.value: kind for kind in DeviceKind},
}


def accepted_words() -> str:
    """The accepted values in words: « Portable (PC portable, ordinateur portable…) », …"""
    parts = []
    for kind, label in KIND_LABELS_FR.items():
        examples = [w for w in WORDS[kind] if fold(w) != fold(label)][:3]
        parts.append(f"{label} ({', '.join(examples)})" if examples else label)
    return " ; ".join(parts)


def parse_kind(value: object, where: str = "") -> str:
    """The kind a word names (blank means a laptop), or Invalid listing the accepted words."""
    text = fold(value)
    if not text:
        return DeviceKind.laptop
    kind = ALIASES.get(text)
    if kind is None:
        sentence = f"type d'appareil inconnu «\u00a0{str(value).strip()[:60]}\u00a0»"
        sentence = f"{where}{sentence}" if where else sentence[0].upper() + sentence[1:]
        raise Invalid(f"{sentence}. Valeurs acceptées : {accepted_words()}.")
    return kind.value
