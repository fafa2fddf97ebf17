"""Each operation's input is defined once, in its domain: no second struct or dataclass copies it.

Finds every msgspec struct and dataclass of the five packages (answers — names ending in Out,
Row, Report… — aside) and refuses a type of the web layer (an API body, a page form) whose
fields are nearly all a domain type's (a field-by-field copy), and two domain types with the
same fields.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import msgspec

PACKAGES = ("inventory", "loans", "provisioning", "labels", "web")
OUTPUT_SUFFIXES = ("Out", "Words", "Row", "Report", "Config", "Settings", "Smtp", "Step")


def _modules() -> list[object]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if ".piccolo_migrations" in info.name or info.name.endswith(".live"):
                continue
            found.append(importlib.import_module(info.name))
    return found


def _inputs() -> dict[str, frozenset[str]]:
    """Every command-like type, by its qualified name, with its field names."""
    types: dict[str, frozenset[str]] = {}
    for module in _modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ != module.__name__:  # type: ignore[attr-defined]
                continue
            if value.__name__.endswith(OUTPUT_SUFFIXES):
                continue
            if issubclass(value, msgspec.Struct) and value is not msgspec.Struct:
                names = frozenset(value.__struct_fields__)
            elif dataclasses.is_dataclass(value):
                names = frozenset(field.name for field in dataclasses.fields(value))
            else:
                continue
            if len(names) >= 3:
                types[f"{value.__module__}.{value.__qualname__}"] = names
    return types


def _copies(fields: frozenset[str], other: frozenset[str]) -> bool:
    shared = fields & other
    return len(shared) >= 3 and len(shared) >= 0.8 * min(len(fields), len(other))


def test_the_web_layer_defines_no_copy_of_a_command() -> None:
    types = _inputs()
    web = {name: fields for name, fields in types.items() if name.startswith("web.")}
    domain = {name: fields for name, fields in types.items() if not name.startswith("web.")}
    copies = [
        f"{name} copies {other}: {sorted(fields & other_fields)}"
        for name, fields in web.items()
        for other, other_fields in domain.items()
        if _copies(fields, other_fields)
    ]
    assert not copies, "\n".join(copies)


def test_no_two_domain_types_have_the_same_fields() -> None:
    by_fields: dict[frozenset[str], list[str]] = {}
    for name, fields in _inputs().items():
        by_fields.setdefault(fields, []).append(name)
    twins = [", ".join(sorted(names)) for names in by_fields.values() if len(names) > 1]
    assert not twins, "\n".join(twins)
