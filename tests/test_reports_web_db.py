"""Report pages, API, command line, donor report and open data, on the scenario's data."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from loans.reports import donor, funder, opendata
from tests.support import clear_tables, run
from tests.test_reports_scenario import build

pytestmark = pytest.mark.db
REEMPLOI = str(Path(sys.executable).parent / "reemploi")
HANDLERS = ("funder_report_api", "donor_report_api", "opendata_api")
PAGES = ("reports_index", "funder_report_page", "donor_report_page", "donor_certificates")


@pytest.fixture(scope="module")
def scenario() -> dict:
    run(clear_tables())
    return run(build())


@pytest.fixture(scope="module")
def app_client(scenario: dict) -> Iterator[Any]:
    from litestar.testing import TestClient

    from web.api import reports as api
    from web.app import create_app
    from web.pages import reports as pages

    app = create_app()
    paths = {route.path for route in app.routes}
    if "/reports" not in paths:  # until web/app.py registers them
        for name in HANDLERS:
            app.register(getattr(api, name))
        for name in PAGES:
            app.register(getattr(pages, name))
    with TestClient(app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture(scope="module")
def tokens(scenario: dict) -> dict[str, str]:
    from web.account_links import link_programme
    from web.accounts import Principal, create_token, create_user, open_session
    from web.roles import Role

    # A funder reads the programmes linked to its account (not those whose `funder` field
    # happens to read like its name): one funder linked to p1, one linked to nothing.
    coordinator = Principal("coord", Role.coordinator, user_id=None)
    funder_id = run(create_user("Département du Rhône", PASSWORD, "funder"))
    run(link_programme(coordinator, funder_id, scenario["p1"]["id"]))
    run(create_user("Autre financeur", PASSWORD, "funder"))
    return {
        "coordinator": run(create_token("coord", "coordinator")),
        "mediator": run(create_token("med", "mediator")),
        "funder": run(open_session("Département du Rhône", PASSWORD)),
        "other_funder": run(open_session("Autre financeur", PASSWORD)),
        "funder_token": run(create_token("Département du Rhône", "funder")),
    }


PASSWORD = "un mot de passe de financeur"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session(token: str) -> dict[str, str]:
    """A person logged in through /login: the session cookie."""
    return {"Cookie": f"reemploi_session={token}"}


def period(scenario: dict) -> str:
    return f"from={scenario['start']}&to={scenario['end']}"


def test_coordinator_page_has_the_figures_and_svg_charts(
    app_client: Any, tokens: dict, scenario: dict
) -> None:
    page = app_client.get(
        f"/reports/funder?programme=all&{period(scenario)}", headers=bearer(tokens["coordinator"])
    )
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and "Tous les programmes" in page.text
    # The page shows the same figures as the computed report (the PDF, CSV and XLSX are
    # checked against it in test_reports_funder_db).
    report = run(funder.funder_report(None, scenario["start"], scenario["end"]))
    shown = dict(re.findall(r'data-key="([a-z0-9_]+)">([^<%]+?)(?: %)?</td>', page.text))
    assert {k: v.replace("&lt;", "<") for k, v in shown.items()} == {
        row.key: row.display for _, row in report.rows()
    }
    assert shown["collected_total"] == "2" and shown["households"] == "&lt; 5"
    assert shown["devices_lent"] == "&lt; 5" and shown["qpv_share"] == "masqué"
    assert "data-note>Secret statistique (seuil 5)" in page.text
    assert "ADEME" in page.text and "27 kg CO2e" in page.text
    as_json = app_client.get(
        f"/api/v1/reports/funder?{period(scenario)}", headers=bearer(tokens["coordinator"])
    ).text
    for text in (page.text, as_json):
        for value in scenario["personal"]:
            assert value not in text
    index = app_client.get("/reports", headers=bearer(tokens["coordinator"]))
    assert index.status_code == 200 and "Équiper les familles" in index.text
    for fmt, media in (("csv", "text/csv"), ("xlsx", "spreadsheetml"), ("pdf", "application/pdf")):
        answer = app_client.get(
            f"/reports/funder?programme={scenario['p1']['id']}&{period(scenario)}&format={fmt}",
            headers=bearer(tokens["coordinator"]),
        )
        assert answer.status_code == 200 and media in answer.headers["content-type"]


def test_a_funder_sees_its_own_programme_only(
    app_client: Any, tokens: dict, scenario: dict
) -> None:
    own, other = scenario["p1"]["id"], scenario["p2"]["id"]
    funder = session(tokens["funder"])
    index = app_client.get("/reports", headers=funder)
    assert "Équiper les familles" in index.text and "Fondation Numérique" not in index.text
    assert "Rapports aux donateurs" not in index.text
    ok = app_client.get(
        f"/api/v1/reports/funder?programme={own}&{period(scenario)}", headers=funder
    )
    assert ok.status_code == 200 and ok.json()["programme"] == "Équiper les familles"
    refused = app_client.get(
        f"/reports/funder?programme={other}&{period(scenario)}", headers=funder
    )
    assert refused.status_code == 403
    everything = app_client.get(
        f"/api/v1/reports/funder?programme=all&{period(scenario)}", headers=funder
    )
    assert everything.status_code == 403
    stranger = session(tokens["other_funder"])
    assert (
        app_client.get(
            f"/api/v1/reports/funder?programme={own}&{period(scenario)}", headers=stranger
        ).status_code
        == 403
    )
    assert app_client.get("/api/v1/reports/donors/1", headers=funder).status_code == 403
    # A token named like the funder is linked to no account: it reads no programme.
    named_alike = bearer(tokens["funder_token"])
    assert (
        app_client.get(
            f"/api/v1/reports/funder?programme={own}&{period(scenario)}", headers=named_alike
        ).status_code
        == 403
    )
    mediator = bearer(tokens["mediator"])
    assert (
        app_client.get(f"/reports/funder?{period(scenario)}", headers=mediator).status_code == 403
    )


def test_bad_dates_are_refused_with_a_sentence(app_client: Any, tokens: dict) -> None:
    answer = app_client.get(
        "/api/v1/reports/funder?from=2026-13-01&to=2026-12-31",
        headers=bearer(tokens["coordinator"]),
    )
    assert answer.status_code == 422 and "AAAA-MM-JJ" in answer.text


def test_donor_report_gives_each_device_fate_and_certificates(
    app_client: Any, tokens: dict, scenario: dict
) -> None:
    from inventory.tables import Donor

    company = run(Donor.select().where(Donor.kind == "company").first())
    # The device that came back in the old phase goes to the WEEE channel.
    returned = run(donor.donor_report(company["id"]))["devices"]
    (back,) = [d["asset_tag"] for d in returned if "À effacer" in d["fate"]]
    run(devices.apply_transition(back, "retire", "tech", reason="recycled_weee"))
    report = run(donor.donor_report(company["id"], "https://atelier.example"))
    assert report["totals"] == {"devices": 3, "wiped": 3, "reused": 3, "recycled": 1}
    fates = {d["asset_tag"]: d["fate"] for d in report["devices"]}
    assert fates[back] == "Données effacées (Clear) ; Prêté ; Recyclé par la filière DEEE"
    assert sum("Perdu pendant un prêt" in f for f in fates.values()) == 1
    assert sum("Volé pendant un prêt" in f for f in fates.values()) == 1
    assert all(
        d["certificates"][0]["verify_url"].startswith("https://atelier.example/verify/")
        for d in report["devices"]
    )
    page = app_client.get(f"/reports/donors/{company['id']}", headers=bearer(tokens["coordinator"]))
    assert page.status_code == 200 and report["devices"][0]["asset_tag"] in page.text
    assert "Signataire" not in page.text and "Aïcha" not in page.text
    bundle = app_client.get(
        f"/reports/donors/{company['id']}/certificates", headers=bearer(tokens["coordinator"])
    )
    assert bundle.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert names[0].startswith("rapport-donateur-") and any(
        n.startswith("certificat-don-") for n in names
    )


def test_opendata_per_commune_is_anonymised(scenario: dict) -> None:
    rows = run(opendata.per_commune(scenario["start"], scenario["end"]))
    by_code = {r["insee"]: r for r in rows}
    assert set(by_code) == {"69123", "38185"}
    assert by_code["69123"]["households"] == 2 and by_code["69123"]["children"] == 5
    assert by_code["69123"]["devices_lent"] == 2 and by_code["38185"]["devices_lent"] == 1
    assert by_code["69123"]["sessions_done"] == 1
    text = opendata.to_csv(rows, threshold=2).decode()
    table = {r["code_insee"]: r for r in csv.DictReader(io.StringIO(text))}
    assert table["69123"]["foyers"] == "2" and table["38185"]["foyers"] == "< 2"
    for person in ("Aïcha", "Benali", "Chloé", "Denis", "@example.org"):
        assert person not in text


def test_the_command_line_writes_the_report_in_each_format(scenario: dict, tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx", "html", "pdf"):
        out = tmp_path / f"r.{fmt}"
        result = subprocess.run(
            [
                REEMPLOI,
                "report",
                "funder",
                "--programme",
                str(scenario["p1"]["id"]),
                "--from",
                str(scenario["start"]),
                "--to",
                str(scenario["end"]),
                "--format",
                fmt,
                "--threshold",
                "2",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        assert result.returncode == 0, result.stderr
        assert out.stat().st_size > 0
    assert "devices_lent;Appareils prêtés;2;" in (tmp_path / "r.csv").read_text("utf-8-sig")
    bad = subprocess.run(
        [
            REEMPLOI,
            "report",
            "funder",
            "--programme",
            "Inconnu",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert bad.returncode == 2 and "Programme inconnu" in bad.stderr
    od = tmp_path / "od.csv"
    result = subprocess.run(
        [
            REEMPLOI,
            "report",
            "opendata",
            "--from",
            str(scenario["start"]),
            "--to",
            str(scenario["end"]),
            "--out",
            str(od),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode == 0 and "69123" in od.read_text()
    from inventory.tables import Donor

    public = run(Donor.select().where(Donor.kind == "public_body").first())
    bundle = tmp_path / "bundle.zip"
    result = subprocess.run(
        [
            REEMPLOI,
            "report",
            "donor",
            "--donor",
            str(public["id"]),
            "--bundle",
            "--out",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    names = zipfile.ZipFile(bundle).namelist()
    assert names == [f"rapport-donateur-{public['id']}.pdf", names[1]] and names[1].endswith(".pdf")


JUNK = [
    {},
    {"from": "2026-02-30", "to": "x"},
    {"from": "2026-12-31", "to": "2026-01-01"},
    {"from": "0001-01-01", "to": "9999-12-31"},
    {"programme": "abc", "from": "2026-01-01", "to": "2026-02-01"},
    {"programme": "99999", "from": "2026-01-01", "to": "2026-02-01"},
    {"programme": "-1", "format": "exe", "from": "2026-01-01", "to": "2026-02-01"},
    {"from": "\x00" * 10, "to": "%" * 5000},
]


def test_malformed_queries_get_a_clear_answer(app_client: Any, tokens: dict) -> None:
    failures = []
    for path in (
        "/reports",
        "/reports/funder",
        "/api/v1/reports/funder",
        "/api/v1/reports/opendata",
        "/api/v1/reports/donors/999999",
        "/reports/donors/999999",
    ):
        for params in JUNK:
            answer = app_client.get(path, params=params, headers=bearer(tokens["coordinator"]))
            if answer.status_code >= 500:
                failures.append(f"{path} {params}: {answer.status_code}")
    assert not failures, "\n".join(failures)


def test_a_funder_without_a_choice_gets_its_programme(
    app_client: Any, tokens: dict, scenario: dict
) -> None:
    page = app_client.get(f"/reports/funder?{period(scenario)}", headers=session(tokens["funder"]))
    assert page.status_code == 200 and "Équiper les familles" in page.text
    none = app_client.get("/reports/funder", headers=session(tokens["other_funder"]))
    assert none.status_code == 200 and "Aucun programme n" in none.text
