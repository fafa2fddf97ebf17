"""The environmental impact: ADEME figures kept as data (ademe.json), applied to a device count."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("ademe.json")


@lru_cache(maxsize=1)
def figures() -> dict[str, Any]:
    """The ADEME figures with their sources, as published (see ademe.json)."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def avoided(extra_years: int) -> dict[str, Decimal]:
    """Avoided impact of `extra_years` extra years of use of refurbished laptops."""
    per_year = figures()["avoided_per_extra_year"]
    return {
        "co2e_kg": Decimal(per_year["co2e_kg"]) * extra_years,
        "raw_materials_kg": Decimal(per_year["raw_materials_kg"]) * extra_years,
        "ewaste_kg": Decimal(per_year["ewaste_g"]) * extra_years / 1000,
    }
