"""The self-audit (`reemploi check`, `/check`): silent on the demo, and for each invariant a
database broken by hand (raw update, insert or file change) is named in a sentence."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inventory import config
from inventory.tables import Device, Disk, Event
from inventory.tags import format_tag
from loans import checkout, documents, privacy, returns
from loans.tables import Borrower, BorrowerContact, Document, Loan, LoanDevice, Signature
from provisioning import records
from provisioning.audit import pdf_path
from provisioning.tables import MethodType, SanitizationRecord, Status
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db

REEMPLOI = str(Path(sys.executable).parent / "reemploi")


def check() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REEMPLOI, "check"], capture_output=True, text=True, env=os.environ.copy()
    )


def assert_flags(*sentences: str) -> str:
    result = check()
    assert result.returncode == 1, result.stdout + result.stderr
    for sentence in sentences:
        assert sentence in result.stdout, result.stdout
    return result.stdout


def lend(count: int = 1) -> tuple[int, list[str]]:
    """A loan of `count` ready laptops through the checkout service: (loan n°, tags)."""
    tags = run(ready_devices(count))
    setup = run(loan_setup())
    request = checkout.CheckoutIn(borrower_id=setup["borrower"]["id"], tags=tags)
    signature = checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self")
    loan = run(checkout.checkout(request, signature, "test"))
    return loan["id"], tags


def device_id(tag: str) -> int:
    return run(Device.select(Device.id).where(Device.asset_tag == tag).first())["id"]


def event(tag: str, kind: str, to_state: str | None = None, **payload: Any) -> None:
    run(
        Event.insert(
            Event(
                device=device_id(tag),
                actor="test",
                at=datetime.now(UTC),
                kind=kind,
                to_state=to_state,
                payload=payload,
            )
        )
    )


@pytest.fixture
def restore_files() -> Iterator[Callable[[Path], None]]:
    """Files a test damages are put back afterwards: the data directory outlives the test."""
    saved: dict[Path, bytes | None] = {}

    def keep(path: Path) -> None:
        saved.setdefault(path, path.read_bytes() if path.exists() else None)

    yield keep
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(content)


def test_the_demo_has_no_anomaly(db: None) -> None:
    demo = subprocess.run([REEMPLOI, "demo"], capture_output=True, text=True, env=os.environ.copy())
    assert demo.returncode == 0, demo.stderr
    result = check()
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "Aucune anomalie."


@pytest.mark.breaks_invariants
def test_a_stored_state_that_its_events_contradict(db: None) -> None:
    (tag,) = run(ready_devices(1))
    run(Device.update({Device.state: "wiped"}).where(Device.asset_tag == tag))
    assert_flags(
        f"L'appareil {tag} est enregistré « Effacé » alors que son historique le met « Prêt »."
    )


@pytest.mark.breaks_invariants
def test_a_device_without_history(db: None) -> None:
    tag = format_tag("RE", 9999)
    run(Device.insert(Device(asset_tag=tag, state="ready", kind="screen")))
    assert_flags(f"L'appareil {tag} est « Prêt » mais n'a aucun événement de changement d'état")


@pytest.mark.breaks_invariants
def test_a_ready_device_whose_wipe_predates_its_last_custody_change(db: None) -> None:
    (tag,) = run(ready_devices(1))
    event(tag, "registered")
    assert_flags(
        f"L'appareil {tag} est « Prêt » sans qu'un effacement réussi de chacun de ses disques "
        "soit postérieur à sa dernière prise en charge."
    )


@pytest.mark.breaks_invariants
def test_a_loaned_device_whose_image_predates_its_wipe(db: None) -> None:
    _, (tag,) = lend()
    disk = run(Disk.select(Disk.id).where(Disk.device == device_id(tag)).first())
    event(tag, "disk_sanitized", disk_id=disk["id"], passed=True)
    assert_flags(
        f"L'appareil {tag} est « Prêté » sans installation vérifiée postérieure à son effacement."
    )


@pytest.mark.breaks_invariants
def test_a_tag_with_a_wrong_check_character(db: None) -> None:
    (tag,) = run(ready_devices(1))
    wrong = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    run(Device.update({Device.asset_tag: wrong}).where(Device.asset_tag == tag))
    assert_flags(f"L'étiquette {wrong} (appareil n° {device_id(wrong)}) n'est pas une étiquette")


@pytest.mark.breaks_invariants
def test_a_device_on_two_open_loans(db: None) -> None:
    first, (tag,) = lend()
    second, _ = lend()
    run(LoanDevice.insert(LoanDevice(loan=second, device=device_id(tag), out_at=datetime.now(UTC))))
    assert_flags(f"L'appareil {tag} est sur 2 prêts ouverts à la fois (n° {first}, n° {second}).")


@pytest.mark.breaks_invariants
def test_a_ready_device_still_on_an_open_loan(db: None) -> None:
    loan, (tag,) = lend()
    # What the generic "Réparé : prêt" path did (issue 11): the events agree, the loan does not.
    event(tag, "repair_during_loan", "in_repair")
    event(tag, "repaired", "ready")
    run(Device.update({Device.state: "ready"}).where(Device.asset_tag == tag))
    out = assert_flags(
        f"L'appareil {tag} est « Prêt » alors qu'il est sur le prêt ouvert n° {loan} : il "
        "devrait être prêté ou en réparation."
    )
    assert "historique" not in out


@pytest.mark.breaks_invariants
def test_a_loaned_device_without_an_open_loan(db: None) -> None:
    loan, (tag,) = lend()
    run(
        LoanDevice.update({LoanDevice.returned_at: datetime.now(UTC)}).where(
            LoanDevice.loan == loan
        )
    )
    assert_flags(
        f"L'appareil {tag} est « Prêté » sans aucun prêt ouvert.",
        f"Le prêt n° {loan} est ouvert alors qu'aucun appareil n'y est plus.",
    )


@pytest.mark.breaks_invariants
def test_a_closed_loan_with_a_device_still_out(db: None) -> None:
    loan, (tag,) = lend()
    run(Loan.update({Loan.status: "closed"}).where(Loan.id == loan))
    assert_flags(f"Le prêt n° {loan} est clos alors que l'appareil {tag} n'en est pas revenu.")


@pytest.mark.breaks_invariants
def test_a_repair_during_a_loan_that_lost_its_loan(db: None) -> None:
    loan, (tag,) = lend()
    run(returns.check_in(tag, returns.ReturnIn(reason="repair"), "test"))
    run(
        LoanDevice.update({LoanDevice.returned_at: datetime.now(UTC)}).where(
            LoanDevice.loan == loan
        )
    )
    assert_flags(
        f"L'appareil {tag} est en réparation pendant le prêt n° {loan}, mais n'est plus sur "
        "aucun prêt ouvert."
    )


@pytest.mark.breaks_invariants
def test_a_signed_charter_file_missing_or_altered(
    db: None, restore_files: Callable[[Path], None]
) -> None:
    loan, _ = lend()
    sha = run(Loan.select(Loan.document_sha256).where(Loan.id == loan).first())["document_sha256"]
    path = documents.path_of(sha)
    restore_files(path)
    path.write_bytes(path.read_bytes() + b"%")
    assert_flags(
        f"Le fichier de la charte signée du prêt n° {loan} est modifié (SHA-256 différent)"
    )
    path.unlink()
    assert_flags(f"Le fichier de la charte signée du prêt n° {loan} est introuvable ({sha}).")


@pytest.mark.breaks_invariants
def test_a_loan_without_a_signature(db: None) -> None:
    loan, _ = lend()
    run(Signature.delete().where(Signature.loan == loan))
    assert_flags(f"Le prêt n° {loan} n'a pas de signature.")


def certified(tag: str | None = None) -> dict[str, Any]:
    """A passed Clear of a 64 MiB disk, signed, as the engine reports it."""
    media = records.Media(
        model="ST500LM021", serial="W62Z1A2B", size_bytes=64 << 20, media_type="HDD"
    )
    runner = records.Runner(operator="Camille Martin", station="banc-1")
    started = run(
        records.start(media, runner, method_type=MethodType.clear, verification_method="full")
    )
    outcome = records.Outcome(
        status=Status.passed,
        method_type=MethodType.clear,
        method="overwrite",
        method_details="1 passe de zéros",
        tool="Réemploi effaceur 1.0",
        verification_method="full",
        verification_result="passed",
        verified_bytes=64 << 20,
        bytes_written=64 << 20,
    )
    return run(records.finish(started["id"], outcome, runner.operator))


@pytest.mark.breaks_invariants
def test_a_certificate_whose_record_changed_after_signing(db: None) -> None:
    record = certified()
    assert check().returncode == 0
    run(
        SanitizationRecord.update({SanitizationRecord.media_serial: "W62Z1A2C"}).where(
            SanitizationRecord.id == record["id"]
        )
    )
    assert_flags(
        f"Le certificat {record['certificate_id']} (relevé n° {record['id']}, d'un disque seul) : "
        "Signature invalide"
    )


@pytest.mark.breaks_invariants
def test_a_certificate_pdf_altered(db: None, restore_files: Callable[[Path], None]) -> None:
    record = certified()
    record, _ = run(records.issue_pdf(record["id"], "http://testserver.local", "test"))
    path = pdf_path(record["certificate_sha256"])
    restore_files(path)
    assert check().returncode == 0
    path.write_bytes(path.read_bytes() + b"%")
    assert_flags(
        f"Le certificat {record['certificate_id']} (relevé n° {record['id']}, d'un disque seul) : "
        "son PDF enregistré a été modifié (SHA-256 différent)."
    )


@pytest.mark.breaks_invariants
def test_an_orphan_document_row_and_file(db: None, restore_files: Callable[[Path], None]) -> None:
    content = f"reste d'un prêt refusé {time.time()}".encode()
    sha = documents.write_file(content)
    restore_files(documents.path_of(sha))
    # A young unnamed file may belong to a checkout committing right now: not yet an orphan.
    assert check().returncode == 0
    old = time.time() - 2 * 3600
    os.utime(documents.path_of(sha), (old, old))
    assert_flags(
        f"Le fichier {sha} du dossier des documents n'est rattaché à aucun prêt ni certificat."
    )
    run(documents.record(sha, "signed_charter", "application/pdf", len(content)))
    assert_flags(
        f"La fiche document {sha} (signed_charter) n'est rattachée à aucun prêt : c'est un reste "
        "d'une opération refusée."
    )
    run(Document.delete().where(Document.sha256 == sha))


@pytest.mark.breaks_invariants
def test_a_borrower_without_contact_and_one_kept_too_long(db: None) -> None:
    setup = run(loan_setup())
    borrower = setup["borrower"]
    run(BorrowerContact.delete().where(BorrowerContact.borrower == borrower["id"]))
    assert_flags(
        f"L'emprunteur {borrower['code']} n'a plus de coordonnées sans avoir été anonymisé."
    )
    old = run(loan_setup(name="Ancien Foyer"))["borrower"]
    long_ago = datetime.now(UTC) - timedelta(days=privacy.retention_days() + 10)
    run(Borrower.update({Borrower.created_at: long_ago}).where(Borrower.id == old["id"]))
    assert_flags(
        f"L'emprunteur {old['code']} garde ses données personnelles au-delà de la durée de "
        "conservation"
    )


@pytest.mark.breaks_invariants
def test_an_erased_borrowers_charter_left_on_disk(
    db: None, restore_files: Callable[[Path], None]
) -> None:
    loan, (tag,) = lend()
    sha = run(Loan.select(Loan.document_sha256).where(Loan.id == loan).first())["document_sha256"]
    content = documents.path_of(sha).read_bytes()
    run(returns.check_in(tag, returns.ReturnIn(reason="end"), "test"))
    borrower = run(Loan.select(Loan.borrower).where(Loan.id == loan).first())["borrower"]
    run(privacy.erase(borrower, "test"))
    assert check().returncode == 0
    restore_files(documents.path_of(sha))
    documents.path_of(sha).write_bytes(content)
    assert_flags(f"Le document {sha} d'un emprunteur anonymisé est encore sur le disque")


async def _insert_without_foreign_keys(sql: str) -> None:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    async with engine.transaction():
        await engine.run_ddl("SET LOCAL session_replication_role = replica")
        await engine.run_ddl(sql)


@pytest.mark.breaks_invariants
def test_a_row_naming_a_deleted_parent(db: None, engine_name: str) -> None:
    (tag,) = run(ready_devices(1))
    donation = run(Device.select(Device.donation).where(Device.asset_tag == tag).first())
    sql = f'UPDATE "donation" SET "donor" = 999999 WHERE "id" = {donation["donation"]}'
    if engine_name == "sqlite":
        # What a restore or a hand edit with foreign keys off can leave behind.
        with sqlite3.connect(config.sqlite_path()) as connection:
            connection.execute("PRAGMA foreign_keys = OFF")
            connection.execute(sql)
    else:
        run(_insert_without_foreign_keys(sql))
    assert_flags(
        f"La ligne n° {donation['donation']} de la table donation renvoie à la ligne n° 999999 "
        "de la table donor, qui n'existe plus."
    )


@pytest.mark.breaks_invariants
def test_the_page_lists_violations_for_coordinators_only(
    client: Any, tokens: dict[str, str]
) -> None:
    coordinator = {"Authorization": f"Bearer {tokens['coordinator']}"}
    page = client.get("/check", headers=coordinator)
    assert page.status_code == 200
    assert "Aucune anomalie." in page.text
    assert (
        client.get("/check", headers={"Authorization": f"Bearer {tokens['admin']}"}).status_code
        == 200
    )
    technician = client.get("/check", headers={"Authorization": f"Bearer {tokens['technician']}"})
    assert technician.status_code == 403
    (tag,) = run(ready_devices(1))
    run(Device.update({Device.state: "wiped"}).where(Device.asset_tag == tag))
    page = client.get("/check", headers=coordinator)
    assert page.status_code == 200
    assert "Aucune anomalie." not in page.text
    assert f"L&#39;appareil {tag} est enregistré « Effacé »" in page.text or (
        f"L'appareil {tag} est enregistré « Effacé »" in page.text
    )


@pytest.mark.breaks_invariants
def test_a_history_that_puts_a_device_on_another_loan(db: None) -> None:
    first, (tag,) = lend()
    second, _ = lend()
    # The link moved to another loan by hand: the events (what the lifecycle obeys) disagree.
    run(
        LoanDevice.update({LoanDevice.loan: second}).where(
            (LoanDevice.loan == first) & (LoanDevice.device == device_id(tag))
        )
    )
    assert_flags(
        f"L'historique de l'appareil {tag} le met sur le prêt n° {first}, mais ses prêts "
        f"ouverts sont n° {second} : l'historique et les prêts divergent."
    )
