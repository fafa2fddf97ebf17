"""The workshop: repair queue, repairs outside any loan, device edits and retirement."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
