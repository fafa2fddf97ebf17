"""Personal data (invariant 6): export, erasure that keeps statistics, scheduled purge."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.query.functions.aggregate import Sum

from inventory.errors import Conflict
from inventory.tables import Event
from loans import borrowers, checkout, documents, mediation, privacy, returns
from loans.tables import Borrower, Loan, LoanDevice, MediationSession
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db

PERSONAL = ["Camille", "Durand", "camille.durand@example.org", "06 12 34 56 78", "rue des Lilas"]


async def text_columns() -> list[tuple[str, str]]:
    engine = engine_finder()
    if isinstance(engine, PostgresEngine):
        rows = await Event.raw(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb')"
        )
        return [(r["table_name"], r["column_name"]) for r in rows]
    tables = await Event.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
    pairs = []
    for table in tables:
        for column in await Event.raw(f'PRAGMA table_info("{table["name"]}")'):
            if column["type"].upper().startswith(("TEXT", "VARCHAR", "JSON", "CHAR")):
                pairs.append((table["name"], column["name"]))
    return pairs


async def find_everywhere(needle: str) -> list[str]:
    found = []
    for table, column in await text_columns():
        rows = await Event.raw(
            f'SELECT COUNT(*) AS n FROM "{table}" WHERE LOWER(CAST("{column}" AS TEXT)) LIKE {{}}',
            f"%{needle.lower()}%",
        )
        if rows[0]["n"]:
            found.append(f"{table}.{column}")
    return found


def report_counts() -> dict:
    children = run(Borrower.select(Sum(Borrower.children_count, alias="n")))[0]["n"]
    return {
        "borrowers": run(Borrower.count()),
        "qpv": run(Borrower.count().where(Borrower.qpv_resident.eq(True))),
        "communes": sorted({r["insee_code"] for r in run(Borrower.select(Borrower.insee_code))}),
        "children": children,
        "loans": run(Loan.count()),
        "devices_lent": run(LoanDevice.count()),
        "sessions_done": run(MediationSession.count().where(MediationSession.status == "done")),
        "checkouts": run(Event.count().where(Event.kind == "checkout")),
    }


def borrower_with_history() -> tuple[dict, dict]:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(
                setup["borrower"]["id"], [tag], condition_out="remis à Camille Durand en main"
            ),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )
    session = run(MediationSession.select().where(MediationSession.loan == loan["id"]).first())
    run(
        mediation.record_session(
            session["id"],
            mediation.SessionRecord(
                status="done",
                held_on=date.today(),
                place_type="lieu_activite",
                duration_minutes=45,
                themes=["email"],
                autonomy="autonome",
                notes="Camille Durand a créé son adresse camille.durand@example.org",
            ),
            "mediatrice",
        )
    )
    return setup["borrower"], loan


def test_export_holds_the_person_s_data(db: None, tmp_path: Path) -> None:
    borrower, loan = borrower_with_history()
    data = run(privacy.export(borrower["id"]))
    assert data["contact"]["full_name"] == "Camille Durand"
    assert data["loans"][0]["document_sha256"] == loan["document_sha256"]
    assert len(data["sessions"]) == 2
    pdf = run(privacy.export_pdf(borrower["id"]))
    tool = shutil.which("pdftotext")
    if tool:
        (tmp_path / "e.pdf").write_bytes(pdf)
        text = subprocess.run([tool, tmp_path / "e.pdf", "-"], capture_output=True, text=True)
        assert "Camille Durand" in text.stdout and borrower["code"] in text.stdout


def test_erasure_leaves_no_personal_data_and_the_same_counts(db: None) -> None:
    borrower, loan = borrower_with_history()
    with pytest.raises(Conflict, match="prêt est en cours"):
        run(privacy.erase(borrower["id"], "coordinateur"))
    tag = loan["devices"][0]["asset_tag"]
    run(
        returns.check_in(
            tag, returns.ReturnIn("end", damage=True, damage_notes="rayure, dit Camille"), "m"
        )
    )
    assert run(find_everywhere("Camille")), "the search must see the data before erasure"
    before = report_counts()
    erased = run(privacy.erase(borrower["id"], "coordinateur"))
    assert erased["anonymised_at"] is not None and erased["code"] == borrower["code"]
    for needle in PERSONAL:
        assert run(find_everywhere(needle)) == [], needle
    assert report_counts() == before
    assert not documents.path_of(loan["document_sha256"]).exists()
    # Erasing twice is harmless; lending to an anonymised record is refused.
    run(privacy.erase(borrower["id"], "coordinateur"))
    with pytest.raises(Conflict, match="anonymisé"):
        run(checkout.prepare(checkout.CheckoutIn(borrower["id"], ["x"])))


def test_the_purge_erases_after_the_retention_period(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEMPLOI_RETENTION_DAYS", "730")
    old = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Ancien Voisin")))
    recent = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Nouvelle Voisine")))
    long_ago = datetime.now(UTC) - timedelta(days=800)
    run(Borrower.update({Borrower.created_at: long_ago}).where(Borrower.id == old["id"]))
    assert run(privacy.purge(date.today())) == [old["code"]]
    assert run(borrowers.get_contact(old["id"])) is None
    assert run(borrowers.get_contact(recent["id"]))["full_name"] == "Nouvelle Voisine"
    assert run(find_everywhere("Ancien Voisin")) == []
