"""Mediation pages: agenda, recording and correcting sessions, unplanned sessions, workshops."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
