"""The French communes shipped in `loans/data/communes.csv.gz` (source and date in its README).

Search by name, ignoring accents, case, hyphens and apostrophes, and reading "St" as "Saint";
lookup by INSEE code. Loaded once from the package's data; nothing is fetched at run time.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from inventory.errors import Invalid

DATA = Path(__file__).parent / "data" / "communes.csv.gz"
LIMIT = 20


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    postcodes: tuple[str, ...]
    departement: str
    population: int

    @property
    def label(self) -> str:
        """The name with its département, as people tell two communes of the same name apart."""
        return f"{self.name} ({self.departement})"

    def as_dict(self) -> dict[str, object]:
        return {
            "insee": self.insee,
            "name": self.name,
            "departement": self.departement,
            "postcodes": list(self.postcodes),
            "label": self.label,
        }


_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}


def normalise(text: str) -> str:
    """Lower case, no accents; hyphens, apostrophes and spaces become one space; St -> Saint."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("œ", "oe").replace("æ", "ae")
    words = re.split(r"[^a-z0-9]+", text)
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words if w)


@cache
def _load() -> tuple[tuple[Commune, ...], dict[str, Commune], tuple[str, ...]]:
    with gzip.open(DATA, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
        rows = tuple(
            Commune(
                insee=r["insee"],
                name=r["nom"],
                postcodes=tuple(r["codes_postaux"].split()),
                departement=r["departement"],
                population=int(r["population"] or 0),
            )
            for r in reader
        )
    return rows, {c.insee: c for c in rows}, tuple(normalise(c.name) for c in rows)


def by_insee(code: str) -> Commune | None:
    """The commune of this INSEE code, or None."""
    return _load()[1].get((code or "").strip().upper())


def search(query: str, limit: int = LIMIT) -> list[Commune]:
    """Communes whose name matches: exact names first, then names starting with the query, then
    names containing it; the more populous first within each group. A postcode or an INSEE code
    (5 characters) finds its communes too."""
    rows, by_code, names = _load()
    query = (query or "").strip()
    if not query:
        return []
    if re.fullmatch(r"[0-9][0-9AB][0-9]{3}", query.upper()):
        found = [c for c in rows if query in c.postcodes]
        exact = by_code.get(query.upper())
        if exact is not None and exact not in found:
            found.insert(0, exact)
        return found[:limit]
    wanted = normalise(query)
    if not wanted:
        return []
    ranked: list[tuple[int, int, str, Commune]] = []
    for commune, name in zip(rows, names, strict=True):
        if name == wanted:
            group = 0
        elif name.startswith(wanted):
            group = 1
        elif f" {wanted}" in f" {name}":
            group = 2
        else:
            continue
        ranked.append((group, -commune.population, name, commune))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:limit]]


def exact(query: str) -> list[Commune]:
    """The communes whose name is exactly the one typed (accents, case and "St" aside)."""
    wanted = normalise(query)
    rows, _, names = _load()
    found = [c for c, name in zip(rows, names, strict=True) if name == wanted]
    return sorted(found, key=lambda c: -c.population)


@dataclass(frozen=True)
class Resolution:
    """What a typed commune name designates: one commune, or the choices to pick from."""

    commune: Commune | None
    choices: tuple[Commune, ...] = ()


def resolve(name: str, insee: str = "") -> Resolution:
    """The commune meant by a form: the INSEE code picked if it has this name, else the one
    commune of that name; several → the choices (with département); none → refused."""
    name = (name or "").strip()
    if not name and not insee:
        return Resolution(None)
    chosen = by_insee(insee) if insee else None
    if chosen is not None and (
        not name or normalise(name) in (normalise(chosen.name), normalise(chosen.label))
    ):
        return Resolution(chosen)
    label = re.fullmatch(r"(.+?)\s*\(([0-9][0-9AB][0-9]?)\)", name)
    if label:
        found = [c for c in exact(label.group(1)) if c.departement == label.group(2)]
        if len(found) == 1:
            return Resolution(found[0])
    found = exact(name)
    if len(found) == 1:
        return Resolution(found[0])
    if len(found) > 1:
        return Resolution(None, tuple(found))
    close = search(name, limit=10)
    if len(close) == 1:
        return Resolution(close[0])
    if close:
        return Resolution(None, tuple(close))
    raise Invalid(f"Commune : aucune commune ne s'appelle « {name[:120]} ».")
