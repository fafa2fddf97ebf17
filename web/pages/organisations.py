"""Organisations (schools, social centres) that borrow class sets or partner with us."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
