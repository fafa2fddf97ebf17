"""Loan charter versions: list, write in Markdown with a preview, publish from a date."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
