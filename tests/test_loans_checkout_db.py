"""Checkout under a signed charter (invariant 2), class sets, and one winner (invariant 7)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from inventory import devices
from inventory.errors import Conflict, Invalid
from inventory.tables import Device, Event
from loans import borrowers, checkout, documents
from loans.tables import Loan, LoanDevice, MediationSession, Signature
from tests.support import loan_setup, new_donation, ready_devices, run, signature_png, unavailable

pytestmark = pytest.mark.db


def pdf_text(content: bytes, tmp_path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        unavailable("pdftotext (poppler-utils) is missing")
    source = tmp_path / "charter.pdf"
    source.write_bytes(content)
    return subprocess.run(
        [tool, "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


def sign(name: str = "Camille Durand", role: str = "self") -> checkout.SignatureIn:
    return checkout.SignatureIn("drawn", signature_png(), name, role)


def snapshot() -> tuple:
    return (
        run(Loan.count()),
        run(LoanDevice.count()),
        run(Signature.count()),
        run(Event.count()),
        run(MediationSession.count()),
        tuple(r["state"] for r in run(Device.select(Device.state).order_by(Device.id))),
    )


def test_checkout_stores_the_signed_pdf_by_hash(db: None, tmp_path: Path) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    request = checkout.CheckoutIn(
        borrower_id=setup["borrower"]["id"],
        tags=[tag],
        programme_id=setup["programme"]["id"],
        accessories=["chargeur", "sacoche"],
    )
    loan = run(checkout.checkout(request, sign(), "mediatrice"))
    assert loan["status"] == "open" and loan["charter_version"] == 1
    assert "reconditionné" in loan["charter_text"]
    device = run(devices.get_device(tag))
    assert device["state"] == "loaned"
    pdf = documents.read(loan["document_sha256"])
    assert hashlib.sha256(pdf).hexdigest() == loan["document_sha256"]
    text = pdf_text(pdf, tmp_path)
    assert device["serial"].startswith("PF")
    for expected in ("Version 1", tag, device["serial"], "Camille Durand", "chargeur"):
        assert expected in text
    events = run(Event.select().where(Event.loan_id == loan["id"]).output(load_json=True))
    opened = [e for e in events if e["kind"] == "loan_opened"]
    assert opened[0]["payload"]["document_sha256"] == loan["document_sha256"]
    assert opened[0]["payload"]["charter_version"] == 1
    # Names stay out of the audit trail.
    assert "Camille" not in str([e["payload"] for e in events])
    checkout_event = [e for e in events if e["kind"] == "checkout"][0]
    assert loan["document_sha256"] in checkout_event["payload"]["note"]
    # Follow-ups planned by the programme: prise en main at +7 days, usages at +30.
    sessions = run(MediationSession.select().where(MediationSession.loan == loan["id"]))
    assert sorted(s["label"] for s in sessions) == ["prise en main", "usages"]


def test_refusals_change_nothing(db: None) -> None:
    setup = run(loan_setup())
    minor = run(
        borrowers.create_borrower(
            borrowers.BorrowerIn(
                full_name="Léo Martin", is_minor=True, guardian_name="Dominique Martin"
            )
        )
    )
    tags = run(ready_devices(1))
    (received,) = run(new_donation(1))
    before = snapshot()
    adult = setup["borrower"]["id"]
    cases = [
        (checkout.CheckoutIn(adult, [received]), sign(), Conflict, "n'est pas prêt"),
        (
            checkout.CheckoutIn(adult, tags),
            checkout.SignatureIn("drawn", b"", "Camille Durand", "self"),
            Invalid,
            "pas signée",
        ),
        (checkout.CheckoutIn(minor["id"], tags), sign("Léo Martin"), Invalid, "représentant"),
        (checkout.CheckoutIn(adult, [*tags, received]), sign(), Conflict, "n'est pas prêt"),
    ]
    for request, signature, error, words in cases:
        with pytest.raises(error, match=words):
            run(checkout.checkout(request, signature, "mediatrice"))
    assert snapshot() == before
    # The guardian may sign for the minor.
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(minor["id"], tags), sign("Dominique Martin", "legal_guardian"), "m"
        )
    )
    assert loan["signature"]["signer_role"] == "legal_guardian"


def test_a_class_set_of_25_in_one_transaction(db: None) -> None:
    run(loan_setup())
    school = run(borrowers.create_organisation("École Jean Macé", "school", "Lyon", "69123"))
    borrower = run(
        borrowers.create_borrower(
            borrowers.BorrowerIn(kind="organisation", organisation_id=school["id"])
        )
    )
    tags = run(ready_devices(25))
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(borrower["id"], tags),
            sign("Mme la directrice", "school_representative"),
            "coordinateur",
        )
    )
    assert len(loan["devices"]) == 25
    assert run(Device.count().where(Device.state == "loaned")) == 25
    assert run(Signature.count()) == 1


def test_concurrent_checkouts_of_one_device_have_one_winner(db: None) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    results: list[str] = []

    def attempt() -> None:
        try:
            run(checkout.checkout(checkout.CheckoutIn(setup["borrower"]["id"], [tag]), sign(), "m"))
            results.append("ok")
        except Conflict:
            results.append("409")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["409", "409", "409", "ok"]
    assert run(Loan.count()) == 1
    assert run(Event.count().where(Event.kind == "checkout")) == 1


def test_a_paper_scan_instead_of_a_drawn_signature(db: None, tmp_path: Path) -> None:
    import io

    from PIL import Image, ImageDraw

    setup = run(loan_setup())
    tag, other = run(ready_devices(2))
    scan = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(scan).text((20, 80), "signé", fill="black")
    buffer = io.BytesIO()
    scan.save(buffer, "JPEG")
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag]),
            checkout.SignatureIn("paper", buffer.getvalue(), "Camille Durand", "self"),
            "m",
        )
    )
    assert loan["signature"]["method"] == "paper"
    assert "scannée" in pdf_text(documents.read(loan["document_sha256"]), tmp_path)
    with pytest.raises(Invalid, match="PNG ou JPEG"):
        run(
            checkout.checkout(
                checkout.CheckoutIn(setup["borrower"]["id"], [other]),
                checkout.SignatureIn("paper", b"%PDF-1.7 ...", "Camille Durand", "self"),
                "m",
            )
        )


def test_a_new_charter_text_is_a_new_version_and_loans_keep_theirs(db: None) -> None:
    from datetime import date

    from loans import charter

    setup = run(loan_setup())
    first, second = run(ready_devices(2))
    borrower = setup["borrower"]["id"]
    old = run(checkout.checkout(checkout.CheckoutIn(borrower, [first]), sign(), "m"))
    run(charter.create_version("Charte", "# Charte 2027\n\nNouveau texte.", date.today(), "c"))
    new = run(checkout.checkout(checkout.CheckoutIn(borrower, [second]), sign(), "m"))
    assert (old["charter_version"], new["charter_version"]) == (1, 2)
    assert "reconditionné" in run(checkout.get_loan(old["id"]))["charter_text"]
    assert "Nouveau texte" in new["charter_text"]
    assert run(charter.get_version(1))["text"] == old["charter_text"]
