"""The association's places validate against the national "lieux de médiation numérique" schema.

The schema file is the official one (tests/data/lieux/, v1.0.2, commit in its README); the
validator is frictionless, the table-schema reference implementation. The export is read back
from the API the reports page links to, for the demo's sites and for a site with every field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from frictionless import Resource, Schema

from inventory import sites
from inventory.site_vocabulary import (
    AccessMode,
    Fee,
    Label,
    NationalProgramme,
    Public,
    Service,
    SpecificSupport,
    SupportMode,
)
from inventory.tables import Site
from loans.reports import lieux
from tests.support import run

pytestmark = pytest.mark.db
SCHEMA = Path(__file__).parent / "data" / "lieux" / "schema.json"

EVERY_FIELD: dict[str, Any] = {
    "name": "Atelier du Réemploi — La Guillotière",
    "address": "12 bis rue de Marseille",
    "address_complement": "Fond de cour, porte B",
    "postal_code": "69007",
    "commune": "Lyon",
    "insee_code": "69387",
    "latitude": 45.7531,
    "longitude": 4.8426,
    "phone": "04 78 00 11 22",
    "siret": "12345678900017",
    "typology": ["ASSO", "TIERS_LIEUX"],
    "emails": ["contact@reemploi.example.org", "atelier@reemploi.example.org"],
    "websites": ["https://reemploi.example.org/", "https://reemploi.example.org/lyon7"],
    "opening_hours": "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00; PH off",
    "summary": "Ordinateurs reconditionnés, prêtés ou cédés à prix solidaire.",
    "description": "Un atelier de réemploi : = nous effaçons, installons et prêtons.",
    "roaming": ["Fixe"],
    "parent_structure": "Réseau des ateliers solidaires",
    "services": [s.value for s in Service],
    "publics": [p.value for p in Public],
    "specific_support": [s.value for s in SpecificSupport],
    "fees": [Fee.gratuit_sous_condition.value, Fee.payant.value],
    "national_programmes": [p.value for p in NationalProgramme],
    "labels": [label.value for label in Label],
    "other_labels": "Label Numérique responsable",
    "access_modes": [m.value for m in AccessMode if m != AccessMode.pas_de_public],
    "support_modes": [m.value for m in SupportMode],
    "accessibility_url": "https://acceslibre.beta.gouv.fr/app/69-lyon/a/association/erp/atelier/",
    "booking_url": "https://www.rdv-solidarites.fr/",
}


def schema() -> Schema:
    # A descriptor, not a path: frictionless refuses absolute paths as "not safe".
    return Schema.from_descriptor(json.loads(SCHEMA.read_text(encoding="utf-8")))


def errors_of(name: str, content: bytes, folder: Path) -> list[Any]:
    (folder / name).write_bytes(content)
    report = Resource(path=name, basepath=str(folder), schema=schema()).validate()
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


@pytest.fixture
def app_client(db: None) -> Iterator[Any]:
    from litestar.testing import TestClient

    import web.app
    from web.api import reports as api
    from web.pages import sites as site_pages

    mine = (api.lieux_api, api.communes_api, *site_pages.ROUTES)
    missing = [h for h in mine if h not in web.app.ROUTE_HANDLERS]
    web.app.ROUTE_HANDLERS.extend(missing)
    try:
        with TestClient(web.app.create_app(), base_url="http://testserver.local") as client:
            yield client
    finally:
        for handler in missing:
            web.app.ROUTE_HANDLERS.remove(handler)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def download(client: Any, token: str, fmt: str) -> bytes:
    answer = client.get("/api/v1/reports/lieux", params={"format": fmt}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.content


def test_the_demo_places_validate(app_client: Any, tokens: dict, tmp_path: Path) -> None:
    from web.demo import load_demo

    run(load_demo())
    rows, left_out = run(lieux.places())
    assert left_out == [] and len(rows) == 2
    content = download(app_client, tokens["coordinator"], "csv")
    assert errors_of("lieux.csv", content, tmp_path) == []
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert list(table[0]) == list(lieux.COLUMNS)
    assert {r["nom"] for r in table} == {"Atelier de Villeurbanne", "Antenne Vaulx-en-Velin"}
    assert all(
        "Acquisition de matériel informatique à prix solidaire" in r["services"] for r in table
    )
    assert {r["telephone"] for r in table} == {"+33472000000", ""}
    assert {r["pivot"] for r in table} == {lieux.PIVOT_UNKNOWN}
    document = download(app_client, tokens["coordinator"], "json")
    assert errors_of("lieux.json", document, tmp_path) == []
    assert [list(r) for r in json.loads(document)] == [list(lieux.COLUMNS)] * 2


def test_a_site_with_every_field_validates(app_client: Any, tokens: dict, tmp_path: Path) -> None:
    answer = app_client.post("/api/v1/sites", json=EVERY_FIELD, headers=bearer(tokens["admin"]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["phone"] == "04 78 00 11 22"  # as typed: labels print it
    content = download(app_client, tokens["coordinator"], "csv")
    assert errors_of("lieux.csv", content, tmp_path) == []
    (row,) = csv.DictReader(io.StringIO(content.decode("utf-8")))
    assert row["telephone"] == "+33478001122"  # international in the export, as the schema asks
    empty = [column for column, value in row.items() if not value]
    assert empty == [], f"colonnes vides : {empty}"
    assert row["courriels"] == "contact@reemploi.example.org|atelier@reemploi.example.org"
    assert row["latitude"] == "45.7531" and row["pivot"] == "12345678900017"
    # A free text starting like a formula stays text; the schema's patterns are untouched.
    assert row["presentation_detail"].startswith("Un atelier")
    document = download(app_client, tokens["coordinator"], "json")
    assert errors_of("lieux.json", document, tmp_path) == []
    assert json.loads(document)[0]["services"].split("|") == EVERY_FIELD["services"]


BAD = [
    ({"insee_code": "6938"}, "insee_code", "Code INSEE : cinq caractères"),
    ({"postal_code": "6900"}, "postal_code", "Code postal : cinq chiffres"),
    ({"opening_hours": "lundi 9h-12h"}, "opening_hours", "format OpenStreetMap"),
    ({"opening_hours": "Mo 25:00-26:00"}, "opening_hours", "format OpenStreetMap"),
    ({"emails": ["contact@@example"]}, "emails", "n'est pas une adresse électronique"),
    ({"websites": ["www.example.org"]}, "websites", "n'est pas une adresse web"),
    ({"phone": "12"}, "phone", "Téléphone : un numéro français"),
    ({"services": ["Réparation"]}, "services", "choisissez une valeur de la liste"),
    ({"latitude": 45.7}, "latitude", "la latitude et la longitude"),
    ({"siret": "123"}, "siret", "14 chiffres"),
]


@pytest.mark.parametrize(("change", "field", "sentence"), BAD)
def test_a_bad_site_is_refused_in_french(
    app_client: Any, tokens: dict, change: dict, field: str, sentence: str
) -> None:
    body = {"name": "Antenne", **change}
    answer = app_client.post("/api/v1/sites", json=body, headers=bearer(tokens["admin"]))
    assert answer.status_code in (400, 422), answer.text
    assert sentence in answer.text
    assert run(Site.count()) == 0


def test_the_site_page_describes_a_place(app_client: Any, tokens: dict) -> None:
    """Through the page: a bad hours field is refused and shown, then the site is saved and
    its commune's INSEE code is read from the communes list."""
    headers = bearer(tokens["coordinator"])
    form = {
        "name": "Antenne de Lyon 7e",
        "address": "3 rue de la Thibaudière",
        "postal_code": "69007",
        "commune": "Villeurbanne",
        "opening_hours": "du lundi au vendredi",
        "emails": "a@reemploi.example.org\nb@reemploi.example.org",
        "services": [Service.materiel_solidaire.value, Service.acces_materiel.value],
        "fees": "Gratuit",
    }
    assert app_client.get("/sites/new", headers=headers).status_code == 200
    form["_csrf_token"] = app_client.cookies.get("reemploi_csrf", "")
    refused = app_client.post("/sites/new", data=form, headers=headers)
    assert refused.status_code == 422
    assert "Horaires : « du lundi au vendredi » ne suit pas le format OpenStreetMap" in (
        refused.text.replace("&#34;", '"').replace("&#39;", "'")
    )
    assert 'value="Antenne de Lyon 7e"' in refused.text and run(Site.count()) == 0
    form["opening_hours"] = "Mo-Fr 09:00-17:00"
    saved = app_client.post("/sites/new", data=form, headers=headers, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    (site,) = run(sites.list_sites())
    assert site.insee_code == "69266" and site.emails == [
        "a@reemploi.example.org",
        "b@reemploi.example.org",
    ]
    assert site.services == [Service.materiel_solidaire, Service.acces_materiel]
    listing = app_client.get("/sites", headers=headers)
    assert "Antenne de Lyon 7e" in listing.text and "exporté" in listing.text
    edit = app_client.get(f"/sites/{site.id}", headers=headers)
    assert "a@reemploi.example.org\nb@reemploi.example.org" in edit.text
    form["summary"] = "Une antenne."
    saved = app_client.post(f"/sites/{site.id}", data=form, headers=headers, follow_redirects=False)
    assert saved.status_code == 303
    assert run(sites.get_site(site.id)).summary == "Une antenne."


def test_the_reports_page_offers_both_datasets(app_client: Any, tokens: dict) -> None:
    page = app_client.get("/reports", headers=bearer(tokens["coordinator"]))
    assert 'href="/api/v1/reports/lieux?format=csv"' in page.text
    assert 'action="/api/v1/reports/communes"' in page.text
    old = app_client.get(
        "/api/v1/reports/opendata",
        params={"from": "2026-01-01", "to": "2026-02-01"},
        headers=bearer(tokens["coordinator"]),
        follow_redirects=False,
    )
    assert old.status_code == 308
    assert old.headers["location"].startswith("/api/v1/reports/communes?")
