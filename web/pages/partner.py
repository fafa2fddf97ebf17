"""A partner's own organisation: its loans, devices, borrowers' codes and sessions."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
