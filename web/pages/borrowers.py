"""Borrowers' list, card, edit, export and erasure."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
