"""Commands: one msgspec struct per operation, built and checked the same way everywhere.

The API decodes JSON into the struct, a page converts its form into it (`web.forms`), the CLI
builds it from its options; all three go through `build` or msgspec's decoder, so a command
that reaches a service has passed its constraints. A struct may name its fields for people in
a `field_labels` class variable; a refusal then reads « Port : 65535 au plus. ».
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from inventory.errors import FieldInvalid

CommandT = TypeVar("CommandT", bound=msgspec.Struct)

_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_SENTENCES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Object missing required field `([^`]+)`"), "champ obligatoire."),
    (re.compile(r"Object contains unknown field `([^`]+)`"), "champ inconnu."),
    (re.compile(r"Expected `str` of length <= (\d+)"), "{0} caractères au plus."),
    (re.compile(r"Expected `str` of length >= 1"), "champ obligatoire."),
    (re.compile(r"Expected `str` of length >= (\d+)"), "{0} caractères au moins."),
    (re.compile(r"Expected `array` of length <= (\d+)"), "{0} éléments au plus."),
    (re.compile(r"Expected `array` of length >= (\d+)"), "choisissez-en au moins {0}."),
    (re.compile(r"Expected `(?:int|float)` <= (\S+)"), "{0} au plus."),
    (re.compile(r"Expected `(?:int|float)` >= (\S+)"), "{0} au moins."),
    (re.compile(r"Expected `(?:int|float)` < (\S+)"), "moins de {0}."),
    (re.compile(r"Expected `(?:int|float)` > (\S+)"), "plus de {0}."),
    (re.compile(r"Expected `str` matching regex"), "format non reconnu."),
    (re.compile(r"Invalid enum value"), "choisissez une valeur de la liste."),
    (re.compile(r"Expected `int(?: \| null)?`"), "un nombre entier est attendu."),
    (re.compile(r"Expected `(?:float|decimal)(?: \| null)?`"), "un nombre est attendu."),
    (re.compile(r"Expected `bool(?: \| null)?`"), "oui ou non est attendu."),
    (
        re.compile(r"Expected `date(?: \| null)?`|Invalid RFC3339 encoded date"),
        "une date est attendue.",
    ),
    (
        re.compile(r"Expected `datetime(?: \| null)?`|Invalid RFC3339"),
        "une date et une heure sont attendues.",
    ),
    (re.compile(r"Expected `str(?: \| null)?`"), "un texte est attendu."),
    (re.compile(r"Expected `array(?: \| null)?`"), "une liste est attendue."),
    (re.compile(r"Expected `object(?: \| null)?`"), "un objet est attendu."),
]


def french_reason(reason: str) -> tuple[str, str]:
    """msgspec's English reason (without its " - at" part) as a French sentence, and the field
    the reason itself names (a missing or unknown one), else ""."""
    for pattern, french in _SENTENCES:
        if match := pattern.search(reason):
            groups = match.groups()
            if pattern.pattern.startswith("Object"):
                return french, groups[0]
            return french.format(*groups), ""
    return "valeur invalide.", ""


def refusal(
    error: msgspec.ValidationError, labels: Mapping[str, str] | None = None
) -> FieldInvalid:
    """msgspec's English reason as a French sentence naming the field."""
    text = str(error)
    at = _AT.search(text)
    path = at.group(1) if at else ""
    sentence, named = french_reason(_AT.sub("", text))
    path = ".".join(p for p in (path, named) if p)
    field = path.split("[")[0]
    name = (labels or {}).get(field) or (labels or {}).get(field.split(".")[-1]) or field
    return FieldInvalid(field, f"{name} : {sentence}" if name else sentence.capitalize())


def build(command: type[CommandT], values: Mapping[str, Any], *, strict: bool = True) -> CommandT:
    """`values` as a checked `command`; `strict=False` also reads numbers, dates and booleans
    written as text (forms, command-line options). A bad field raises FieldInvalid."""
    labels: Mapping[str, str] | None = getattr(command, "field_labels", None)
    try:
        return msgspec.convert(dict(values), command, strict=strict)
    except msgspec.ValidationError as error:
        raise refusal(error, labels) from None


def checked(command: CommandT) -> CommandT:
    """A struct built with its constructor (which checks nothing), checked against its own
    constraints: use it where code, not a person, fills a command."""
    return build(type(command), msgspec.structs.asdict(command))
