"""System images: list, add, retire."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
