"""Accounts: link a partner to its organisation and a funder to its programmes."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
