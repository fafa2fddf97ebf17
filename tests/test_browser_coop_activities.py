"""Coop-compatible activities in real Chromium (issue #14): a session recorded through its page
with every Coop field, and a collective workshop with its name, level and participants, come
back from the agenda's export — XLSX and CSV, the Coop's columns — with every field; the CLI
writes the same CSV; then the self-audit (`reemploi check`) finds nothing."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from loans import activities_export, checkout, communes
from loans.tables import MediationSession
from tests.browser import PASSWORD, login, requests_leaving
from tests.support import loan_setup, ready_devices, run, signature_png
from web.accounts import create_user

pytestmark = pytest.mark.db
REEMPLOI = str(Path(sys.executable).parent / "reemploi")


def lend(mediator: str, name: str) -> dict:
    setup = run(loan_setup(name=name))
    (tag,) = run(ready_devices(1))
    return run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag], setup["programme"]["id"]),
            checkout.SignatureIn("drawn", signature_png(), name, "self"),
            mediator,
        )
    )


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    run(create_user("mediatrice", PASSWORD, "mediator"))
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", accept_downloads=True
    )
    outside = requests_leaving(context, server)
    opened = context.new_page()
    login(opened, server, "mediatrice")
    yield opened
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


def _xlsx(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content))["Activités"]
    rows = [["" if c is None else c for c in row] for row in sheet.iter_rows(values_only=True)]
    for row in rows[1:]:
        row[0] = row[0].date().strftime("%d/%m/%Y")  # a date cell, shown dd/mm/yyyy
        row[8] = str(row[8])
        row[15] = str(row[15])
        row[-1] = str(row[-1])
    return rows


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def _download(page: Any, server: str, fmt: str) -> bytes:
    page.goto(f"{server}/agenda")
    today = date.today().isoformat()
    page.fill("#export_from", today)
    page.fill("#export_to", today)
    page.select_option("#export_format", fmt)
    with page.expect_download() as download:
        page.locator("#export-activities").click()
    assert download.value.suggested_filename == f"activites-coop-{today}-{today}.{fmt}"
    return Path(download.value.path()).read_bytes()


def test_a_session_and_a_workshop_round_trip_through_the_coop_export(
    page: Any, server: str, tmp_path: Path
) -> None:
    loan = lend("mediatrice", "Camille Durand")
    other = lend("mediatrice", "Sam Petit")
    # One person's session, every field of the Coop filled.
    page.goto(f"{server}/agenda")
    page.locator("#agenda tr", has_text=loan["borrower_code"]).locator(
        "a", has_text="prise en main"
    ).click()
    page.wait_for_selector("form#record")
    page.check("#status_done")
    page.fill("#held_on", date.today().isoformat())
    page.select_option("#place_type", "domicile")
    page.fill("#duration_minutes", "50")
    page.check("#theme_email")
    page.check("#theme_aide_aux_demarches_administratives")
    page.check("#admin_theme_logement")
    page.check("#admin_theme_argent_impots")
    page.fill("#demarche", "Demande d'aide au logement")
    page.check("#materiel_ordinateur")
    page.check("#materiel_telephone")
    page.select_option("#autonomy", "partiellement_autonome")
    page.select_option("#redirection", "aide_sociale")
    page.fill("#redirection_note", "CCAS de Villeurbanne")
    page.select_option("#age_band", "vingt_cinq_trente_neuf")
    page.select_option("#gender", "feminin")
    page.select_option("#social_status", "sans_emploi")
    page.fill("#notes", "dossier APL commencé")
    # The commune is needed at home: refused without it, what was typed is kept.
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#error")
    assert "commune" in page.locator("#error").inner_text()
    assert page.input_value("#demarche") == "Demande d'aide au logement"
    assert page.is_checked("#admin_theme_argent_impots")
    page.fill("#commune", "Villeurbanne")
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert page.locator("#activity-type").inner_text() == "Accompagnement individuel"
    assert "Villeurbanne (69) (69266)" in page.locator("#commune-shown").inner_text()
    (session,) = run(
        MediationSession.select()
        .where((MediationSession.loan == loan["id"]) & (MediationSession.status == "done"))
        .output(load_json=True)
    )
    # A collective workshop: its name and level, then who came and how many in all.
    page.goto(f"{server}/workshops/new")
    page.fill("#planned_on", date.today().isoformat())
    page.fill("#label", "Atelier messagerie")
    page.select_option("#level", "intermediaire")
    page.fill("#participants", f"{loan['borrower_code']} {other['borrower_code']}")
    page.locator("form#new-workshop button[type=submit]").click()
    page.wait_for_selector("form#record")
    page.check("#status_done")
    page.select_option("#place_type", "lieu_activite")
    page.fill("#commune", "Villeurbanne")
    page.fill("#duration_minutes", "90")
    page.check("#theme_email")
    page.check("#materiel_tablette")
    page.fill("#participant_count", "4")
    page.locator("form#record button[type=submit]").click()
    page.wait_for_selector("#history .event-session_recorded")
    assert page.locator("#participants-total").inner_text() == "4"
    (workshop,) = run(
        MediationSession.select().where(MediationSession.collective.eq(True)).output(load_json=True)
    )
    assert workshop["level"] == "intermediaire" and workshop["participants"] == 4

    xlsx = _xlsx(_download(page, server, "xlsx"))
    text = _csv(_download(page, server, "csv"))
    assert xlsx[0] == text[0] == activities_export.HEADERS
    assert xlsx == text
    rows = [dict(zip(text[0], row, strict=True)) for row in text[1:]]
    assert len(rows) == 1 + 4
    lyon = communes.by_insee("69123")
    assert lyon is not None
    day = date.today().strftime("%d/%m/%Y")
    one = rows[0]
    assert one["Enregistré le"].startswith(day[:6]) and " à " in one["Enregistré le"]
    del one["Enregistré le"]
    assert one == {
        "Date": day,
        "Dernière modification le": "",
        "Prénom du médiateur": "",
        "Nom du médiateur": "mediatrice",
        "Rôle": "Médiateur",
        "ID - Conum": "",
        "Type": "Accompagnement individuel",
        "Participants": "1",
        "Canaux d’accompagnement": "À domicile",
        "Nom du lieu": "",
        "Adresse": "",
        "Commune": "Villeurbanne",
        "Code postal": "69100",
        "Code Insee": "69266",
        "Durée (min)": "50",
        "Nom de l’atelier": "",
        "Matériel numérique utilisé": "Ordinateur\nTéléphone",
        "Thématique(s) d’accompagnement": (
            "E-mail\nAide aux démarches administratives\nLogement\nArgent - Impôts"
        ),
        "Tags": "",
        "Nom de la démarche administrative": "Demande d'aide au logement",
        "Niveau d’autonomie (ou de l’atelier)": "2/3",
        "Bénéficiaire réorienté": "Oui",
        "Structure de redirection": (
            "Structure d’aide sociale (maison des solidarités, centre social…)"
        ),
        "Commune du bénéficiaire": "Lyon",
        "Code postal du bénéficiaire": lyon.postcodes[0],
        "Code Insee du bénéficiaire": "69123",
        "Genre du bénéficiaire": "Féminin",
        "Tranche d’âge du bénéficiaire": "25 - 39 ans",
        "Statut du bénéficiaire": "Sans emploi",
        "ID CRA": str(session["id"]),
    }
    group = rows[1:]
    assert [r["Participants"] for r in group] == ["1/4", "2/4", "3/4", "4/4"]
    for r in group:
        assert r["Type"] == "Atelier collectif"
        assert r["Nom de l’atelier"] == "Atelier messagerie"
        assert r["Niveau d’autonomie (ou de l’atelier)"] == "2/3"
        assert r["Canaux d’accompagnement"] == "Lieu d’activité"
        assert (r["Commune"], r["Code Insee"], r["Durée (min)"]) == ("Villeurbanne", "69266", "90")
        assert r["Matériel numérique utilisé"] == "Tablette"
        assert r["Thématique(s) d’accompagnement"] == "E-mail"
        assert r["Bénéficiaire réorienté"] == ""
        assert r["Genre du bénéficiaire"] == "Non communiqué"
        assert r["Statut du bénéficiaire"] == "Non communiqué ou hétérogène"
        assert r["ID CRA"] == str(workshop["id"])
    # The two registered borrowers came (Lyon); the two others are anonymous.
    assert [r["Code Insee du bénéficiaire"] for r in group] == ["69123", "69123", "", ""]

    # The CLI writes the same file as the page.
    out = tmp_path / "activites.csv"
    today = date.today().isoformat()
    command = [REEMPLOI, "report", "activities", "--from", today, "--to", today]
    result = subprocess.run(
        [*command, "--format", "csv", "--out", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert "5 lignes" in result.stdout
    assert _csv(out.read_bytes()) == text
    # The self-audit, as an operator runs it.
    check = subprocess.run(
        [REEMPLOI, "check"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_bad_period_is_refused_on_the_agenda(page: Any, server: str) -> None:
    page.goto(f"{server}/agenda/activities?from=2026-02-01&to=2026-01-01&format=xlsx")
    assert "précède" in page.locator("#export-error").inner_text()
    page.goto(f"{server}/agenda/activities?from=2026-01-01&to=2026-01-31&format=ods")
    assert "Format attendu" in page.locator("#export-error").inner_text()
