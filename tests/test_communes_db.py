"""The shipped list of communes: search by name, lookup by INSEE code, resolution of a form."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from inventory.errors import Invalid
from loans import borrowers, communes
from tests.support import run

pytestmark = pytest.mark.db


def test_the_data_ships_with_its_source_and_date() -> None:
    data = Path(communes.DATA)
    assert data.exists()
    readme = (data.parent / "README.md").read_text()
    assert "@etalab/decoupage-administratif" in readme and "6.0.0" in readme
    assert "Licence Ouverte" in readme
    with gzip.open(data, "rt", encoding="utf-8") as rows:
        assert next(rows).strip() == "insee,nom,codes_postaux,departement,population"
    assert len(communes._load()[0]) > 34_000


def test_a_name_with_accents_or_abbreviated_finds_its_commune() -> None:
    for typed in ("Saint-Étienne", "saint etienne", "st etienne", "ST-ÉTIENNE", "St Étienne"):
        found = communes.resolve(typed)
        assert found.commune is not None and found.commune.insee == "42218", typed
    assert communes.search("st eti")[0].insee == "42218"  # the exact name first, then prefixes
    assert communes.by_insee("42218").name == "Saint-Étienne"
    assert communes.by_insee("2a004").name == "Ajaccio"
    assert communes.by_insee("00000") is None


def test_a_shared_name_gives_the_choices_with_their_departement() -> None:
    found = communes.resolve("Saint-Denis")
    assert found.commune is None
    codes = {c.insee for c in found.choices}
    assert {"93066", "97411"} <= codes and len(codes) >= 3
    assert found.choices[0].population >= found.choices[-1].population
    assert communes.resolve("Saint-Denis", "93066").commune.insee == "93066"
    assert communes.resolve("Saint-Denis (93)").commune.insee == "93066"
    # A code that does not match the name typed is not taken.
    assert communes.resolve("Saint-Denis", "42218").commune is None


def test_an_unknown_name_is_refused_with_a_sentence() -> None:
    with pytest.raises(Invalid, match="aucune commune"):
        communes.resolve("Zzyzx-sur-Mer")
    assert communes.resolve("").commune is None
    assert communes.search("a") != [] and communes.search("") == []
    assert communes.search("42000")[0].insee == "42218"


def test_an_organisation_keeps_its_commune_and_insee_code(db: None) -> None:
    school = run(
        borrowers.create_organisation("École Jules Ferry", "school", "Saint-Étienne", "42218")
    )
    assert (school["commune"], school["insee_code"]) == ("Saint-Étienne", "42218")
    changed = run(
        borrowers.update_organisation(
            school["id"],
            borrowers.organisation("École Jules-Ferry", "school", "Saint-Denis", "93066"),
            actor="test",
        )
    )
    assert (changed["name"], changed["insee_code"]) == ("École Jules-Ferry", "93066")
