"""Spreadsheet cells that stay text: the OWASP rule against formula injection in CSV and XLSX.

Every export of the product (funder report CSV and XLSX, open data CSV) lives in loans/reports
and writes its cells through `safe`, so a name typed by a user never runs as a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

# What a spreadsheet may read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def safe(value: T) -> T | str:
    """The value, a string that a spreadsheet would read as a formula prefixed with `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[T]) -> list[T | str]:
    """A row of cells through `safe`: numbers stay numbers, risky strings become text."""
    return [safe(value) for value in values]
