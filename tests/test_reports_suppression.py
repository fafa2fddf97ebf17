"""Statistical secrecy of the funder report: a golden scenario at threshold 5, built through the
API, where primary suppression alone would let masked cells be recomputed. Every printed figure
is read back from the HTML, the CSV and the XLSX; every relation of the report's model is tried
against them (and, independently, each masked cell is solved from every printed relation by
brute force over what the reader knows); then the same without complementary suppression must
leak. Threshold 1 masks nothing and says so."""

from __future__ import annotations

import base64
import csv
import html
import io
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from loans.reports import funder, render, suppression
from loans.reports.suppression import Cell, Ratio, Relation, Role, scaled, total
from loans.tables import Borrower, MediationSession
from tests.support import CHARTER_TEXT, clear_tables, ready_devices, run, signature_png
from tests.test_loans_api_db import signature
from tests.test_reports_scenario import shift_back

REEMPLOI = str(Path(sys.executable).parent / "reemploi")
THRESHOLD = 5
# Households by commune, typed by name only (the domain finds the INSEE code): 4 and 7.
COMMUNES = {"Lyon": ("69123", 4), "Villeurbanne": ("69266", 7)}
QPV = 3  # households in a QPV: a count under the threshold a printed rate would give back


# ---------------------------------------------------------------------------------------------
# The rule alone, on small models.


def cells(**values: tuple[int, bool]) -> dict[str, Cell]:
    return {k: Cell(k, Fraction(v), sensitive=s) for k, (v, s) in values.items()}


def test_a_total_with_one_masked_part_masks_another() -> None:
    model = (cells(all=(11, True), a=(4, True), b=(7, True)), (total("t", "all", ["a", "b"]),))
    alone = suppression.suppress(model, 5, complementary=False)
    assert alone.primary == {"a"} and suppression.leaks(model, alone) == {"a"}
    both = suppression.suppress(model, 5)
    assert both.complementary == {"b"} and not suppression.leaks(model, both)


def test_bounds_of_two_small_parts_pin_them() -> None:
    # 4 + 4 = 8 and each is "< 5": both are 4. The total goes too.
    model = (cells(all=(8, True), a=(4, True), b=(4, True)), (total("t", "all", ["a", "b"]),))
    masking = suppression.suppress(model, 5)
    assert masking.complementary == {"all"} and not suppression.leaks(model, masking)


def test_a_rate_over_a_masked_denominator_is_masked() -> None:
    # 66,7 % with "< 5" households: only 2 of 3 fits.
    model_cells = cells(households=(3, True))
    model_cells["qpv"] = Cell("qpv", Fraction(2), sensitive=True, printed=False)
    model_cells["share"] = Cell("share", Fraction(200, 3), role=Role.rate, integer=False)
    model = (model_cells, (Ratio("qpv", "share", ("qpv",), "households"),))
    assert suppression.leaks(model, suppression.suppress(model, 5, complementary=False))
    assert suppression.suppress(model, 5).complementary == {"share"}


def test_an_amount_of_a_masked_count_is_masked() -> None:
    model_cells = cells(paid=(2, True))
    model_cells["fees"] = Cell("fees", Fraction(70), role=Role.amount, integer=False)
    model = (model_cells, (scaled("fees", "fees", Fraction(35), "paid"),))
    assert suppression.suppress(model, 5).complementary == {"fees"}


# ---------------------------------------------------------------------------------------------
# The golden scenario, through the API.


def post(client: Any, path: str, token: str, body: dict[str, Any], status: int = 201) -> Any:
    answer = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """Nine households lent to long ago (still out), then in the period two new loans of three
    devices, one lost; 4 households in Lyon, 7 in Villeurbanne, 3 in a QPV; two sessions."""
    from litestar.testing import TestClient

    from web.accounts import create_token
    from web.app import create_app

    run(clear_tables())
    tokens = {role: run(create_token(f"d-{role}", role)) for role in ("coordinator", "mediator")}
    with TestClient(create_app(), base_url="http://testserver.local") as client:
        boss, mediator = tokens["coordinator"], tokens["mediator"]
        post(
            client,
            "/api/v1/charters",
            boss,
            {"title": "Charte", "text": CHARTER_TEXT, "in_force_from": "2020-01-01"},
        )
        programme = post(client, "/api/v1/programmes", boss, {"name": "Petit programme"})
        households = []
        for commune, (_, count) in COMMUNES.items():
            for i in range(count):
                households.append(
                    post(
                        client,
                        "/api/v1/borrowers",
                        mediator,
                        {
                            "full_name": f"Foyer {commune} {i}",
                            "commune": commune,
                            "qpv_resident": len(households) < QPV,
                        },
                    )
                )
        tags = run(ready_devices(12))

        def lend(borrower: dict[str, Any], lent: list[str]) -> dict[str, Any]:
            body = {
                "borrower_id": borrower["id"],
                "programme_id": programme["id"],
                "tags": lent,
                "signature": signature(),
            }
            return post(client, "/api/v1/loans", mediator, body)

        for borrower, tag in zip(households[:9], tags[:9], strict=True):
            lend(borrower, [tag])
        run(shift_back())
        first = lend(households[9], tags[9:11])
        last = lend(households[10], tags[11:])
        # The loss closes the last loan: its two sessions are cancelled with it.
        post(client, "/api/v1/loans/returns", mediator, {"tag": tags[11], "reason": "lost"}, 200)
        sessions = run(
            MediationSession.select(MediationSession.id)
            .where(MediationSession.loan == first["id"])
            .order_by(MediationSession.planned_on)
        )
        done = {
            "status": "done",
            "held_on": date.today().isoformat(),
            "place_type": "domicile",
            "commune_insee": "69266",
            "duration_minutes": 60,
            "themes": ["email"],
            "autonomy": "autonome",
        }
        post(client, f"/api/v1/sessions/{sessions[0]['id']}/record", mediator, done, 200)
        cancelled = {"status": "cancelled", "notes": "reportée"}
        post(client, f"/api/v1/sessions/{sessions[1]['id']}/record", mediator, cancelled, 200)
        yield {
            "programme": programme,
            "last_loan": last,
            "start": date.today() - timedelta(days=30),
            "end": date.today() + timedelta(days=40),
        }


def printed(report: funder.FunderReport) -> dict[str, dict[str, str]]:
    """{format: {key: text}} read back from the HTML, the CSV and the XLSX."""
    from openpyxl import load_workbook

    page = render.render(report, "html").decode()
    by_html = {
        k: v.replace("&lt;", "<").strip()
        for k, v in re.findall(r'data-key="([a-z0-9_]+)">([^<%]+?)(?: %)?</td>', page)
    }
    rows = list(
        csv.reader(io.StringIO(render.render(report, "csv").decode("utf-8-sig")), delimiter=";")
    )
    by_csv = {r[1]: r[3] for r in rows[1:] if r[0] not in ("rapport", "sources")}
    book = load_workbook(io.BytesIO(render.render(report, "xlsx")))
    by_xlsx = {}
    for section, key, _label, cell, _unit in book["Rapport"].iter_rows(min_row=2):
        if section.value == "rapport":
            continue
        value = cell.value
        if cell.number_format == "0.0":
            value = f"{float(str(value)):.1f}".replace(".", ",")
        by_xlsx[key.value] = str(value)
    return {"html": by_html, "csv": by_csv, "xlsx": by_xlsx}


def parse(text: str) -> Fraction | None:
    """A printed figure as a number; None when masked ("< 5", "masqué") or undefined ("—")."""
    if text.startswith("<") or text in ("masqué", "—"):
        return None
    return Fraction(text.replace(",", "."))


def reader_bounds(text: str | None) -> range:
    """What a reader knows of a cell: "< 5" is 1 to 4; "masqué" or unprinted is 0 or more."""
    if text is not None and text.startswith("<"):
        return range(1, int(text[1:].strip()))
    return range(0, 200)


def recomputable(model: suppression.Model, shown: dict[str, str]) -> set[str]:
    """Independently of the suppression module: every masked (or unprinted) cell that one
    printed relation fixes, by brute force over the integers the reader allows (rates and
    amounts as printed, rounded to one decimal)."""
    cells, relations = model
    values = {k: parse(shown[k]) if k in shown else None for k in cells}
    found = set()
    for relation in relations:
        keys = relation.keys
        unknown = [k for k in keys if values[k] is None]
        if not unknown or len(unknown) > 4:
            continue
        if any(not cells[k].integer for k in unknown):
            # A rate or an amount masked: whatever the rest allows, it is not a count to find;
            # the counts beside it are still tried below with it left free.
            continue
        solutions = []
        for guess in itertools.product(*(reader_bounds(shown.get(k)) for k in unknown)):
            trial = {**values, **dict(zip(unknown, map(Fraction, guess), strict=True))}
            if holds(relation, trial):
                solutions.append(guess)
        for i, key in enumerate(unknown):
            if solutions and len({s[i] for s in solutions}) == 1:
                found.add(key)
    protected = {k for k, text in shown.items() if parse(text) is None and text != "—"}
    protected |= {k for k, c in cells.items() if not c.printed and c.sensitive and c.value < 5}
    return found & {k for k in protected if reader_bounds(shown.get(k)) != range(1, 2)}


def holds(relation: Relation | Ratio, v: dict[str, Fraction | None]) -> bool:
    """Whether the printed relation holds with these values (rates to their printed rounding)."""
    if isinstance(relation, Relation):
        return (
            sum(c * (v[k] or 0) for k, c in relation.terms) == 0
            if all(v[k] is not None for k in relation.keys)
            else False
        )
    rate, den = v[relation.rate], v[relation.denominator]
    num = sum(v[k] or 0 for k in relation.numerator)
    if rate is None or den is None or den == 0:
        return False
    return abs(Fraction(100) * num / den - rate) <= Fraction(1, 20)


def relations_as_printed(report: funder.FunderReport, shown: dict[str, str]) -> None:
    """Every relation of the model holds on the true values, names printed cells only (or
    unprinted ones the report keeps), and holds on the figures as printed where all are."""
    assert report.model is not None
    cells, relations = report.model
    for relation in relations:
        truth = {k: cells[k].value for k in relation.keys}
        assert holds(relation, {**truth}), relation.name
        for key in relation.keys:
            assert (key in shown) == cells[key].printed, (relation.name, key)
        figures = {k: parse(shown[k]) for k in relation.keys if k in shown}
        if len(figures) == len(relation.keys) and all(f is not None for f in figures.values()):
            assert holds(relation, figures), relation.name


pytestmark = pytest.mark.db


def test_golden_report_at_threshold_5_leaks_nothing(world: dict[str, Any]) -> None:
    report = run(
        funder.funder_report(world["programme"]["id"], world["start"], world["end"], threshold=5)
    )
    formats = printed(report)
    computed = {row.key: row.display for _, row in report.rows()}
    for name, figures in formats.items():
        assert figures == computed, name
    shown = formats["html"]
    # The scenario's figures, hand-counted: primary suppression under 5.
    golden = {
        "loans_new": "< 5",  # 2
        "devices_lent": "< 5",  # 3
        "on_loan_during": "12",
        "devices_lost": "< 5",  # 1
        "devices_stolen": "0",
        "loans_active_end": "10",
        "households": "11",
        "commune_69123": "< 5",  # 4
        "sessions_planned": "< 5",  # 4: 1 done, 3 cancelled (2 with the lost loan)
        "sessions_cancelled": "< 5",
        "sessions_pending": "0",
        "place_domicile": "< 5",
        "place_a_distance": "0",
        "laptops_lent": "< 5",
    }
    assert {k: shown[k] for k in golden} == golden
    # Complementary suppression: Villeurbanne's 7 would give Lyon's 4 (11 - 7); the loss rate
    # over 12 devices would give the one loss; the QPV share of 11 would give the 3 in a QPV.
    for key in ("commune_69266", "loss_rate", "qpv_share", "co2e_avoided"):
        assert shown[key] == "masqué", key
    relations_as_printed(report, shown)
    assert report.model is not None
    assert recomputable(report.model, shown) == set()
    masking = suppression.suppress(report.model, 5)
    assert suppression.leaks(report.model, masking) == set()
    # The note names what is masked, section by section, and why.
    note = report.note
    assert "compris entre 1 et 4 sont affichés « < 5 »" in note
    assert "Foyers équipés par commune : Lyon (69)" in note
    assert "Villeurbanne (69)" in note and "Taux de perte ou de vol" in note
    assert "Part des foyers en QPV" in note and "Thématiques des séances réalisées : E-mail" in note
    assert note in html.unescape(render.render(report, "html").decode())
    assert note in render.render(report, "csv").decode("utf-8-sig")
    check = subprocess.run(
        [REEMPLOI, "check"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_without_complementary_suppression_cells_are_recomputed(world: dict[str, Any]) -> None:
    report = run(
        funder.funder_report(
            world["programme"]["id"],
            world["start"],
            world["end"],
            threshold=5,
            complementary=False,
        )
    )
    shown = printed(report)["html"]
    assert shown["commune_69266"] == "7" and shown["loss_rate"] == "8,3"
    assert report.model is not None
    leaked = recomputable(report.model, shown)
    assert {"commune_69123", "devices_lost", "qpv_households"} <= leaked
    masking = suppression.suppress(report.model, 5, complementary=False)
    assert {"commune_69123", "devices_lost"} <= suppression.leaks(report.model, masking)


def test_threshold_1_masks_nothing_and_says_so(world: dict[str, Any]) -> None:
    report = run(
        funder.funder_report(world["programme"]["id"], world["start"], world["end"], threshold=1)
    )
    assert all(not row.masked for _, row in report.rows())
    assert report.value("commune_69123") == "4" and report.value("devices_lost") == "1"
    assert (
        report.note
        == "Aucun chiffre n'est masqué dans ce rapport (seuil de secret statistique : 1)."
    )
    for fmt in ("html", "csv"):
        text = html.unescape(render.render(report, fmt).decode("utf-8-sig"))
        assert "entre 1 et 0" not in text and "< 1" not in text and "masqué »" not in text
        assert report.note in text


def test_the_commune_typed_by_name_gets_its_insee_code(world: dict[str, Any]) -> None:
    rows = run(Borrower.select(Borrower.commune, Borrower.insee_code))
    assert {(r["commune"], r["insee_code"]) for r in rows} == {
        (name, code) for name, (code, _) in COMMUNES.items()
    }


def test_a_household_created_with_a_loan_gets_its_insee_code(
    db: None, tokens: dict[str, str]
) -> None:
    """The API (borrowers, checkout's new household) and the checkout page: a commune typed by
    name gets its INSEE code in the domain; an unknown or shared name is refused, said in French,
    and nothing is written."""
    from litestar.testing import TestClient

    from web.accounts import create_user
    from web.app import create_app
    from web.roles import Role

    run(create_user("coord-d", "mot de passe de test", Role.coordinator.value))
    tags = run(ready_devices(2))
    mediator = {"Authorization": f"Bearer {tokens['mediator']}"}
    with TestClient(create_app(), base_url="http://testserver.local") as client:
        post(
            client,
            "/api/v1/charters",
            tokens["coordinator"],
            {"title": "Charte", "text": CHARTER_TEXT, "in_force_from": "2020-01-01"},
        )
        for typed, said in (
            ("Saint-Denis", "plusieurs communes s'appellent « Saint-Denis »"),
            ("Xyzzyville", "aucune commune ne s'appelle « Xyzzyville »"),
        ):
            refused = client.post(
                "/api/v1/borrowers", json={"full_name": "X", "commune": typed}, headers=mediator
            )
            assert refused.status_code == 422 and said in refused.json()["detail"], refused.text
            loan = client.post(
                "/api/v1/loans",
                json={
                    "tags": [tags[0]],
                    "new_borrower": {"full_name": "X", "commune": typed},
                    "signature": signature("X"),
                },
                headers=mediator,
            )
            assert loan.status_code == 422 and said in loan.json()["detail"], loan.text
        assert run(Borrower.count()) == 0
        loan = post(
            client,
            "/api/v1/loans",
            tokens["mediator"],
            {
                "tags": [tags[0]],
                "new_borrower": {"full_name": "Nour Haddad", "commune": "st etienne"},
                "signature": signature("Nour Haddad"),
            },
        )
        # The checkout page, as a browser posts it (no INSEE code picked from the list).
        client.get("/login")
        form = {
            "username": "coord-d",
            "password": "mot de passe de test",
            "_csrf_token": client.cookies["reemploi_csrf"],
        }
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        fields = {
            "tags": tags[1],
            "new_full_name": "Inès Morel",
            "new_commune": "Vénissieux",
            "signer_name": "Inès Morel",
            "signer_role": "self",
            "signature_data": "data:image/png;base64," + base64.b64encode(signature_png()).decode(),
            "_csrf_token": client.cookies["reemploi_csrf"],
        }
        page = client.post(
            "/loans/new",
            files={k: (None, v) for k, v in fields.items()},
            follow_redirects=False,
        )
        assert page.status_code == 303, page.text
    rows = run(Borrower.select(Borrower.id, Borrower.commune, Borrower.insee_code))
    by_id = {r["id"]: (r["commune"], r["insee_code"]) for r in rows}
    assert by_id[loan["borrower"]] == ("Saint-Étienne", "42218")
    assert sorted(by_id.values()) == [("Saint-Étienne", "42218"), ("Vénissieux", "69259")]
