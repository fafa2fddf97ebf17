"""A page's form as the operation's command struct: the one way pages read what people typed.

    command = form_to(SessionRecord, data)   # data: URLEncodedBody[dict[str, Any]]

Keys the command does not have (the CSRF token, buttons) are left out; an empty field takes the
command's default; a checkbox is a boolean; repeated keys fill a list. Then `inventory.commands`
checks the constraints, so a page accepts exactly what the API accepts, and a refusal is a
FieldInvalid naming the field for the form to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import msgspec
from msgspec import inspect

from inventory.commands import CommandT, build

_TRUE = {"on", "1", "true", "oui", "yes"}
_SEQUENCES = (inspect.ListType, inspect.SetType, inspect.FrozenSetType, inspect.VarTupleType)


@cache
def _kinds(command: type[msgspec.Struct]) -> dict[str, tuple[str, bool]]:
    """Each field's shape for a form: "bool", "list" or "scalar", and whether it has a default."""
    info = inspect.type_info(command)
    assert isinstance(info, inspect.StructType)
    kinds: dict[str, tuple[str, bool]] = {}
    for field in info.fields:
        kind = "scalar"
        types = field.type.types if isinstance(field.type, inspect.UnionType) else (field.type,)
        if any(isinstance(t, inspect.BoolType) for t in types):
            kind = "bool"
        elif any(
            isinstance(t, inspect.ListType | inspect.SetType | inspect.FrozenSetType) for t in types
        ):
            kind = "list"
        kinds[field.encode_name] = (kind, not field.required)
    return kinds


def _values(form: Mapping[str, Any], key: str) -> list[str]:
    value = form.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [str(item).strip() for item in items]


def form_values(command: type[msgspec.Struct], form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields shaped for `command` (before its constraints are checked)."""
    values: dict[str, Any] = {}
    for name, (kind, optional) in _kinds(command).items():
        found = _values(form, name)
        if kind == "bool":
            values[name] = bool(found) and found[-1].lower() in _TRUE
        elif kind == "list":
            if found or not optional:
                values[name] = [item for item in found if item]
        elif found and found[-1] != "":
            values[name] = found[-1]
        elif not optional:
            values[name] = ""
    return values


def form_to(command: type[CommandT], form: Mapping[str, Any]) -> CommandT:
    """The submitted form as `command`; a bad field raises FieldInvalid (field, sentence)."""
    return build(command, form_values(command, form), strict=False)
