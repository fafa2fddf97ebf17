"""Self-audit of loans: open loans and device states, signatures, signed charter files,
documents, borrowers' personal data (invariants 2, 6, 8)."""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from inventory import lifecycle
from inventory.audit import Violation, state_label
from inventory.states import DeviceState
from inventory.tables import Device, Event
from loans import documents, memberships, privacy
from loans.tables import (
    Borrower,
    BorrowerContact,
    Document,
    Loan,
    LoanDevice,
    MediationSession,
    RepairTicket,
    Signature,
)

# Checkout writes its files at the end of its transaction: a younger unnamed file may be one
# whose loan is being committed right now.
FILE_GRACE_SECONDS = 3600
STORED_NAME = re.compile(r"^[0-9a-f]{64}(\.pdf)?$")
# Kinds of document rows that a loan or its signature must name.
LOAN_DOCUMENT_KINDS = frozenset({"signed_charter", "signature"})
LOAN_HELD = frozenset({DeviceState.loaned, DeviceState.in_repair})


def _loans_text(ids: list[int]) -> str:
    return ", ".join(f"n° {i}" for i in sorted(ids))


async def audit_open_loans() -> list[Violation]:
    """At most one open loan per device, and device states that agree with open loans."""
    found: list[Violation] = []
    links = await LoanDevice.select(
        LoanDevice.loan,
        LoanDevice.device,
        LoanDevice.device.asset_tag.as_alias("asset_tag"),
        LoanDevice.device.state.as_alias("state"),
        LoanDevice.loan.status.as_alias("loan_status"),
    ).where(LoanDevice.returned_at.is_null())
    by_device: dict[int, list[dict[str, Any]]] = defaultdict(list)
    open_links_per_loan: dict[int, int] = defaultdict(int)
    for link in links:
        by_device[link["device"]].append(link)
        open_links_per_loan[link["loan"]] += 1
        if link["loan_status"] != "open":
            sentence = (
                f"Le prêt n° {link['loan']} est clos alors que l'appareil {link['asset_tag']} "
                "n'en est pas revenu."
            )
            found.append(Violation("open_loans", f"prêt {link['loan']}", sentence))
    for held in by_device.values():
        tag, state = held[0]["asset_tag"], held[0]["state"]
        if len(held) > 1:
            sentence = (
                f"L'appareil {tag} est sur {len(held)} prêts ouverts à la fois "
                f"({_loans_text([h['loan'] for h in held])})."
            )
            found.append(Violation("open_loans", tag, sentence))
        if state not in LOAN_HELD:
            sentence = (
                f"L'appareil {tag} est « {state_label(state)} » alors qu'il est sur le prêt "
                f"ouvert {_loans_text([h['loan'] for h in held])} : il devrait être prêté ou "
                "en réparation."
            )
            found.append(Violation("open_loans", tag, sentence))
    loaned = await Device.select(Device.id, Device.asset_tag).where(
        Device.state == DeviceState.loaned
    )
    for device in loaned:
        if device["id"] not in by_device:
            sentence = f"L'appareil {device['asset_tag']} est « Prêté » sans aucun prêt ouvert."
            found.append(Violation("open_loans", device["asset_tag"], sentence))
    tickets = await RepairTicket.select(
        RepairTicket.device,
        RepairTicket.loan,
        RepairTicket.device.asset_tag.as_alias("asset_tag"),
    ).where(
        RepairTicket.closed_at.is_null()
        & RepairTicket.loan.is_not_null()
        & (RepairTicket.device.state == DeviceState.in_repair)
    )
    for ticket in tickets:
        if not any(h["loan"] == ticket["loan"] for h in by_device.get(ticket["device"], [])):
            sentence = (
                f"L'appareil {ticket['asset_tag']} est en réparation pendant le prêt "
                f"n° {ticket['loan']}, mais n'est plus sur aucun prêt ouvert."
            )
            found.append(Violation("open_loans", ticket["asset_tag"], sentence))
    for loan in await Loan.select(Loan.id).where(Loan.status == "open"):
        if not open_links_per_loan.get(loan["id"]):
            sentence = f"Le prêt n° {loan['id']} est ouvert alors qu'aucun appareil n'y est plus."
            found.append(Violation("open_loans", f"prêt {loan['id']}", sentence))
    return found + await _history_agrees_with_links(by_device)


async def _history_agrees_with_links(by_device: dict[int, list[dict[str, Any]]]) -> list[Violation]:
    """The loan a device's events leave it on (what the lifecycle obeys) is its open loan."""
    loan_kinds = [name for name, t in lifecycle.TRANSITIONS.items() if t.loan_effect]
    history: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    tags: dict[int, str] = {}
    for event in await (
        Event.select(Event.device, Event.kind, Event.loan_id, Event.device.asset_tag)
        .where(Event.kind.is_in(loan_kinds) & Event.device.is_not_null())
        .order_by(Event.id)
    ):
        history[event["device"]].append((event["kind"], event["loan_id"]))
        tags[event["device"]] = event["device.asset_tag"]
    found = []
    for device in history.keys() | by_device.keys():
        by_events = lifecycle.open_loan(history.get(device, []))
        linked = {link["loan"] for link in by_device.get(device, [])}
        if linked == ({by_events} if by_events is not None else set()):
            continue
        tag = tags.get(device) or by_device[device][0]["asset_tag"]
        said = f"le prêt n° {by_events}" if by_events is not None else "aucun prêt"
        sentence = (
            f"L'historique de l'appareil {tag} le met sur {said}, mais ses prêts ouverts sont "
            f"{_loans_text(sorted(linked)) or 'aucun'} : l'historique et les prêts divergent."
        )
        found.append(Violation("open_loans", tag, sentence))
    return found


def file_problem(sha256: str) -> str | None:
    """None when the stored file exists and matches its name, else what is wrong."""
    try:
        content = documents.path_of(sha256).read_bytes()
    except OSError:
        return "introuvable"
    if hashlib.sha256(content).hexdigest() != sha256:
        return "modifié (SHA-256 différent)"
    return None


async def audit_loan_documents() -> tuple[list[Violation], set[str]]:
    """Every loan is signed, its signed charter and signature image are stored intact, every
    loan document row is named by a loan; returns the file names loans account for."""
    found: list[Violation] = []
    erased = {
        r["id"]
        for r in await Borrower.select(Borrower.id).where(Borrower.anonymised_at.is_not_null())
    }
    loans = await Loan.select(Loan.id, Loan.borrower, Loan.document_sha256).order_by(Loan.id)
    signatures = {
        s["loan"]: s["image_sha256"]
        for s in await Signature.select(Signature.loan, Signature.image_sha256)
    }
    rows = {d["sha256"]: d for d in await Document.select(Document.sha256, Document.kind)}
    live: dict[str, tuple[str, int]] = {}  # file name -> what first names it, and its loan
    gone: set[str] = set()  # files of anonymised borrowers: erased on purpose (invariant 6)
    for loan in loans:
        number, charter_sha = loan["id"], loan["document_sha256"]
        image_sha = signatures.get(number)
        if image_sha is None:
            sentence = f"Le prêt n° {number} n'a pas de signature."
            found.append(Violation("signature", f"prêt {number}", sentence))
        named = [(charter_sha, f"la charte signée du prêt n° {number}")]
        if image_sha:
            named.append((image_sha, f"l'image de la signature du prêt n° {number}"))
        for sha, what in named:
            if sha not in rows:
                sentence = f"Le fichier de {what} n'a pas de fiche document ({sha})."
                found.append(Violation("charter_file", f"prêt {number}", sentence))
            if loan["borrower"] in erased:
                gone.add(sha)
            else:
                live.setdefault(sha, (what, number))
    for sha, (what, number) in live.items():
        problem = file_problem(sha)
        if problem:
            sentence = f"Le fichier de {what} est {problem} ({sha})."
            found.append(Violation("charter_file", f"prêt {number}", sentence))
    for sha in sorted(gone - live.keys()):
        if documents.path_of(sha).exists():
            sentence = (
                f"Le document {sha} d'un emprunteur anonymisé est encore sur le disque : "
                "il porte son nom."
            )
            found.append(Violation("privacy", f"document {sha}", sentence))
    for sha, row in rows.items():
        if row["kind"] in LOAN_DOCUMENT_KINDS and sha not in live and sha not in gone:
            sentence = (
                f"La fiche document {sha} ({row['kind']}) n'est rattachée à aucun prêt : "
                "c'est un reste d'une opération refusée."
            )
            found.append(Violation("orphan", f"document {sha}", sentence))
    return found, set(rows) | live.keys() | gone


def unreferenced_files(folder: Path, named: set[str], now: float | None = None) -> list[Violation]:
    """Stored files (named by their SHA-256) that no row names, older than the grace period."""
    if not folder.is_dir():
        return []
    limit = (time.time() if now is None else now) - FILE_GRACE_SECONDS
    found = []
    for path in sorted(folder.iterdir()):
        if not STORED_NAME.match(path.name) or path.name in named:
            continue
        if path.stat().st_mtime > limit:
            continue
        sentence = (
            f"Le fichier {path.name} du dossier des documents n'est rattaché à aucun prêt ni "
            "certificat."
        )
        found.append(Violation("orphan", f"fichier {path.name}", sentence))
    return found


async def audit_borrowers(today: date | None = None) -> list[Violation]:
    """A borrower keeps its personal data until anonymised, and not past the retention period.

    A borrower without any loan is legitimate (created through the API before its first loan);
    the purge (`reemploi purge`) erases it once the retention period has passed.
    """
    found: list[Violation] = []
    today = today or date.today()
    cutoff = today - timedelta(days=privacy.retention_days())
    people = await Borrower.select(Borrower.id, Borrower.code, Borrower.created_at).where(
        Borrower.anonymised_at.is_null()
    )
    contacts = {c["borrower"] for c in await BorrowerContact.select(BorrowerContact.borrower)}
    last: dict[int, date] = {}
    open_loan: set[int] = set()
    for loan in await Loan.select(Loan.borrower, Loan.status, Loan.opened_at, Loan.closed_at):
        when = (loan["closed_at"] or loan["opened_at"]).date()
        last[loan["borrower"]] = max(last.get(loan["borrower"], when), when)
        if loan["status"] == "open":
            open_loan.add(loan["borrower"])
    sessions = await MediationSession.select(
        MediationSession.borrower, MediationSession.planned_on, MediationSession.held_on
    ).where(MediationSession.borrower.is_not_null())
    for session in sessions:
        for when in (session["planned_on"], session["held_on"]):
            if when:
                last[session["borrower"]] = max(last.get(session["borrower"], when), when)
    for person in people:
        if person["id"] not in contacts:
            sentence = (
                f"L'emprunteur {person['code']} n'a plus de coordonnées sans avoir été anonymisé."
            )
            found.append(Violation("orphan", person["code"], sentence))
        if person["id"] in open_loan:
            continue
        activity = max(person["created_at"].date(), last.get(person["id"], date.min))
        if activity < cutoff:
            sentence = (
                f"L'emprunteur {person['code']} garde ses données personnelles au-delà de la "
                f"durée de conservation (dernière activité le {activity:%d/%m/%Y}) : lancez "
                "« reemploi purge »."
            )
            found.append(Violation("privacy", person["code"], sentence))
    return found


async def audit_sessions() -> list[Violation]:
    """No planned session on a closed loan: closing a loan cancels them (with the reason)."""
    rows = await MediationSession.select(
        MediationSession.id, MediationSession.loan, MediationSession.label
    ).where(
        (MediationSession.status == "planned")
        & MediationSession.loan.is_not_null()
        & (MediationSession.loan.status == "closed")
    )
    return [
        Violation(
            "sessions",
            f"séance {r['id']}",
            f"La séance « {r['label']} » est encore prévue alors que le prêt n° {r['loan']} "
            "est clôturé : elle aurait dû être annulée.",
        )
        for r in rows
    ]


async def audit_memberships_deposits() -> list[Violation]:
    """Every membership and deposit has the status its last event gives it, and no event names
    a membership or deposit that does not exist."""
    return [Violation(*found) for found in await memberships.audit_rows()]
