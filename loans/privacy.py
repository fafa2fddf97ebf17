"""Personal data (invariant 6): a borrower's export (JSON, PDF), erasure that keeps statistics,
and the scheduled purge after the retention period."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid
from labels.pdf import render_pdf
from loans import borrowers, documents, queries
from loans.tables import (
    Borrower,
    BorrowerContact,
    DeviceReturn,
    Loan,
    MediationSession,
    Signature,
    SigningLink,
)

TEMPLATES = Path(__file__).parent / "templates"
ERASED = "[anonymisé]"


def retention_days() -> int:
    """`REEMPLOI_RETENTION_DAYS` (default 730: two years after the last loan or session)."""
    value = os.environ.get("REEMPLOI_RETENTION_DAYS", "730").strip()
    if not value.isdigit() or int(value) < 30:
        raise Invalid("REEMPLOI_RETENTION_DAYS doit être un nombre de jours, 30 au moins.")
    return int(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def export(borrower_id: int) -> dict[str, Any]:
    """Everything held about a borrower, for the person who asks (RGPD article 15)."""
    borrower = await borrowers.get_borrower(borrower_id)
    contact = await borrowers.get_contact(borrower_id)
    loans, _ = await queries.list_loans(borrower_id=borrower_id, limit=1000)
    detailed = []
    for loan in loans:
        detail = await queries.loan_detail(loan["id"])
        detail.pop("charter_text", None)
        detail["returns"] = await DeviceReturn.select().where(DeviceReturn.loan == loan["id"])
        detailed.append(detail)
    sessions = await (
        MediationSession.select()
        .where(MediationSession.borrower == borrower_id)
        .order_by(MediationSession.id)
        .output(load_json=True)
    )
    for row in [contact] if contact else []:
        row.pop("id", None)
        row.pop("borrower", None)
    return _plain(
        {
            "borrower": borrower,
            "contact": contact,
            "loans": detailed,
            "sessions": sessions,
            "exported_at": datetime.now(UTC),
        }
    )


async def export_pdf(borrower_id: int) -> bytes:
    data = await export(borrower_id)
    return render_pdf("borrower_export.html", {"data": data}, pdfa=False, search_path=[TEMPLATES])


async def _last_activity(borrower_id: int, created_at: datetime) -> date:
    dates = [created_at.date()]
    for loan in await Loan.select(Loan.opened_at, Loan.closed_at).where(
        Loan.borrower == borrower_id
    ):
        dates.append((loan["closed_at"] or loan["opened_at"]).date())
    for session in await MediationSession.select(
        MediationSession.planned_on, MediationSession.held_on
    ).where(MediationSession.borrower == borrower_id):
        dates.extend(d for d in (session["planned_on"], session["held_on"]) if d)
    return max(dates)


async def erase(borrower_id: int, actor: str) -> dict[str, Any]:
    """Anonymise a borrower: the personal data goes, the pseudonymous code and counts stay."""
    async with write_transaction(Borrower):
        borrower = await borrowers.get_borrower(borrower_id)
        if borrower["anonymised_at"] is not None:
            return borrower
        if await Loan.exists().where((Loan.borrower == borrower_id) & (Loan.status == "open")):
            raise Conflict("Un prêt est en cours : enregistrez d'abord le retour des appareils.")
        loan_ids = [r["id"] for r in await Loan.select(Loan.id).where(Loan.borrower == borrower_id)]
        files: list[str] = []
        await BorrowerContact.delete().where(BorrowerContact.borrower == borrower_id)
        if loan_ids:
            for loan in await Loan.select(Loan.document_sha256).where(Loan.id.is_in(loan_ids)):
                files.append(loan["document_sha256"])
            for sig in await Signature.select(Signature.image_sha256).where(
                Signature.loan.is_in(loan_ids)
            ):
                files.append(sig["image_sha256"])
            await Signature.update({Signature.signer_name: ERASED}).where(
                Signature.loan.is_in(loan_ids)
            )
            await Loan.update({Loan.condition_out: ""}).where(Loan.id.is_in(loan_ids))
            await DeviceReturn.update(
                {DeviceReturn.damage_notes: "", DeviceReturn.police_report: ""}
            ).where(DeviceReturn.loan.is_in(loan_ids))
            await SigningLink.update({SigningLink.request: {}}).where(
                SigningLink.loan_id.is_in(loan_ids)
            )
        await MediationSession.update({MediationSession.notes: ""}).where(
            MediationSession.borrower == borrower_id
        )
        await Borrower.update({Borrower.anonymised_at: datetime.now(UTC)}).where(
            Borrower.id == borrower_id
        )
        await write_event(
            None, actor, "borrower_erased", None, None, {"borrower": borrower["code"]}
        )
    # The signed charters and signature images carry the name: their files go too.
    for sha in files:
        documents.path_of(sha).unlink(missing_ok=True)
    return await borrowers.get_borrower(borrower_id)


async def purge(today: date, actor: str = "purge") -> list[str]:
    """Erase every borrower whose last loan or session ended more than the retention ago."""
    cutoff = today - timedelta(days=retention_days())
    erased = []
    for borrower in await Borrower.select().where(Borrower.anonymised_at.is_null()):
        if await Loan.exists().where((Loan.borrower == borrower["id"]) & (Loan.status == "open")):
            continue
        if await _last_activity(borrower["id"], borrower["created_at"]) < cutoff:
            await erase(borrower["id"], actor)
            erased.append(borrower["code"])
    return erased
