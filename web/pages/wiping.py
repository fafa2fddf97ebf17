"""Wiping: bench stations, runs in progress, records and certificates."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
