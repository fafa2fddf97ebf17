"""Personal data (invariant 6): a borrower's export (JSON, PDF), erasure that keeps statistics,
and the scheduled purge after the retention period."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from piccolo.columns import JSON, Column
from piccolo.custom_types import Combinable
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from inventory.clock import now
from inventory.config import settings
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict
from inventory.tables import Event
from labels.pdf import render_pdf_async
from loans import borrowers, documents, identifiers, queries
from loans.tables import (
    Borrower,
    BorrowerContact,
    DeviceReturn,
    Document,
    Loan,
    MediationSession,
    RepairTicket,
    SessionAttendee,
    Signature,
    SigningLink,
)

TEMPLATES = Path(__file__).parent / "templates"
ERASED = identifiers.MARKER


class BorrowerExport(msgspec.Struct):
    """Everything held about a borrower (GET /api/v1/borrowers/{id}/export); dates as text."""

    borrower: borrowers.BorrowerOut
    contact: borrowers.ContactOut | None
    # Each loan as GET /api/v1/loans/{id} shows it (without the charter's text), with its returns.
    loans: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    exported_at: datetime


def retention_days() -> int:
    """`REEMPLOI_RETENTION_DAYS` (default 730: two years after the last loan or session)."""
    return settings().retention_days


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
            "exported_at": now(),
        }
    )


async def export_pdf(borrower_id: int) -> bytes:
    """The export as a PDF, laid out in a renderer process (the data read first, no transaction
    held while it renders)."""
    data = await export(borrower_id)
    return await render_pdf_async(
        "borrower_export.html", {"data": data}, pdfa=False, search_path=[TEMPLATES]
    )


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


# Event payload keys that name a person; no code writes them any more, older events lose them.
PERSONAL_KEYS = frozenset(
    {"police_report", "signer_name", "full_name", "email", "phone", "address", "guardian_name"}
)


async def _identifiers(
    borrower_id: int, loan_ids: list[int]
) -> tuple[identifiers.Identifiers, identifiers.Identifiers]:
    """What names the person: `own` (alone: name, phone, e-mail, address, guardian, police
    reference) scrubs any free text; `linked` adds name parts, referent and signers, for the
    free texts of their own loans and sessions."""
    own, linked = identifiers.Identifiers(), identifiers.Identifiers()
    contact = await borrowers.get_contact(borrower_id)
    if contact:
        for who in (own, linked):
            who.add_name(contact["full_name"])
            who.add_name(contact["guardian_name"])
            who.add_text(contact["email"])
            who.add_address(contact["address"])
            who.add_phone(contact["phone"])
        # A referent or a school's signer is a professional named in other families' files too.
        linked.add_name(contact["referent"])
    if loan_ids:
        for sig in await Signature.select(Signature.signer_name).where(
            Signature.loan.is_in(loan_ids)
        ):
            linked.add_name(sig["signer_name"])
        for back in await DeviceReturn.select(DeviceReturn.police_report).where(
            DeviceReturn.loan.is_in(loan_ids)
        ):
            own.add_text(back["police_report"])
            linked.add_text(back["police_report"])
    own.parts.clear()
    return own, linked


async def _rewrite(
    table: type[Table],
    columns: list[Column],
    where: Combinable | None,
    found: re.Pattern[str] | None,
    blank: tuple[Column, ...] = (),
) -> int:
    """Scrub `columns` (text or JSON) and blank `blank` in the rows `where` selects (all rows
    when None); only rows that change are written. Returns how many changed."""
    if found is None and not blank:
        return 0
    query = table.select(table._meta.primary_key, *columns, *blank).output(load_json=True)
    if where is not None:
        query = query.where(where)
    changed = 0
    for row in await query:
        values: dict[Column | str, Any] = {}
        for column in columns:
            old = row[column._meta.name]
            new = identifiers.scrub_json(old, found, PERSONAL_KEYS)
            if new != old:
                values[column] = new
        for column in blank:
            empty = {} if isinstance(column, JSON) else ""
            if row[column._meta.name] not in ("", {}, None):
                values[column] = empty
        if values:
            pk = table._meta.primary_key
            await table.update(values).where(pk == row[pk._meta.name])
            changed += 1
    return changed


async def _scrub_linked(
    borrower_id: int, loan_ids: list[int], found: re.Pattern[str] | None
) -> None:
    """The free texts of the person's own loans and sessions (rules in docs/privacy.md)."""
    if loan_ids:
        in_loans = Loan.id.is_in(loan_ids)
        await _rewrite(Loan, [Loan.condition_out, Loan.accessories], in_loans, found)
        await Signature.update({Signature.signer_name: ERASED}).where(
            Signature.loan.is_in(loan_ids)
        )
        await _rewrite(
            DeviceReturn,
            [DeviceReturn.damage_notes],
            DeviceReturn.loan.is_in(loan_ids),
            found,
            blank=(DeviceReturn.police_report,),
        )
        await _rewrite(
            RepairTicket,
            [RepairTicket.fault, RepairTicket.actions, RepairTicket.parts],
            RepairTicket.loan.is_in(loan_ids),
            found,
        )
        await _rewrite(Event, [Event.payload], Event.loan_id.is_in(loan_ids), found)
    # A link prepared for the person holds their loan's texts, used or not.
    links = await SigningLink.select(SigningLink.id, SigningLink.loan_id, SigningLink.request)
    mine = [
        link["id"]
        for link in links
        if link["loan_id"] in loan_ids
        or json.loads(link["request"] or "{}").get("borrower_id") == borrower_id
    ]
    if mine:
        await SigningLink.update({SigningLink.request: {}}).where(SigningLink.id.is_in(mine))
    await _rewrite(
        MediationSession,
        [MediationSession.label],
        MediationSession.borrower == borrower_id,
        found,
        blank=(MediationSession.notes,),
    )
    attended = [
        a["session"]
        for a in await SessionAttendee.select(SessionAttendee.session).where(
            SessionAttendee.borrower == borrower_id
        )
    ]
    if attended:
        # A collective workshop's notes are about several people: scrubbed, not blanked.
        await _rewrite(
            MediationSession,
            [MediationSession.label, MediationSession.notes],
            MediationSession.id.is_in(attended),
            found,
        )


async def _scrub_elsewhere(found: re.Pattern[str] | None) -> None:
    """Any other free text that names the person alone (a note typed on a device's history,
    another loan's remark): scrubbed wherever it is."""
    await _rewrite(Event, [Event.payload], None, found)
    await _rewrite(Loan, [Loan.condition_out, Loan.accessories], None, found)
    await _rewrite(DeviceReturn, [DeviceReturn.damage_notes], None, found)
    await _rewrite(
        RepairTicket, [RepairTicket.fault, RepairTicket.actions, RepairTicket.parts], None, found
    )
    await _rewrite(MediationSession, [MediationSession.label, MediationSession.notes], None, found)


async def _lock_documents() -> None:
    """On PostgreSQL, hold off checkouts recording files until the erasure commits, so a file
    counted as unshared cannot gain a loan before it is deleted (SQLite: IMMEDIATE does it)."""
    if isinstance(Document._meta.db, PostgresEngine):
        await Document.raw("LOCK TABLE document IN SHARE ROW EXCLUSIVE MODE")


async def checkpoint() -> None:
    """SQLite: copy the WAL into the file and empty it, so erased values do not linger there
    (secure_delete, set on every connection, zeroes them in the file)."""
    if not isinstance(Borrower._meta.db, SQLiteEngine):
        return
    for _ in range(20):
        rows = await Borrower.raw("PRAGMA wal_checkpoint(TRUNCATE)")
        if not rows or not rows[0]["busy"]:
            return
        await asyncio.sleep(0.25)


async def erase(borrower_id: int, actor: str, *, flush: bool = True) -> dict[str, Any]:
    """Anonymise a borrower: the personal data goes, the pseudonymous code and counts stay.

    Free texts are scrubbed or blanked by the rules of docs/privacy.md; the signed charter and
    signature files go unless another borrower's loan names the same bytes.
    """
    async with write_transaction(Borrower):
        await _lock_documents()
        borrower = await borrowers.get_borrower(borrower_id)
        if borrower["anonymised_at"] is not None:
            return borrower
        if await Loan.exists().where((Loan.borrower == borrower_id) & (Loan.status == "open")):
            raise Conflict("Un prêt est en cours : enregistrez d'abord le retour des appareils.")
        loan_ids = [r["id"] for r in await Loan.select(Loan.id).where(Loan.borrower == borrower_id)]
        own, linked = await _identifiers(borrower_id, loan_ids)
        await _scrub_linked(borrower_id, loan_ids, identifiers.pattern(linked))
        await _scrub_elsewhere(identifiers.pattern(own, with_parts=False))
        files: set[str] = set()
        if loan_ids:
            for loan in await Loan.select(Loan.document_sha256).where(Loan.id.is_in(loan_ids)):
                files.add(loan["document_sha256"])
            for sig in await Signature.select(Signature.image_sha256).where(
                Signature.loan.is_in(loan_ids)
            ):
                files.add(sig["image_sha256"])
        await BorrowerContact.delete().where(BorrowerContact.borrower == borrower_id)
        await Borrower.update({Borrower.anonymised_at: now()}).where(Borrower.id == borrower_id)
        await write_event(
            None, actor, "borrower_erased", None, None, {"borrower": borrower["code"]}
        )
        # The signed charters and signature images carry the name; bytes another borrower's
        # loan also names stay (content-addressed: same bytes, one file). Deleted last, inside
        # the transaction, so no checkout can start naming them in between.
        for sha in sorted(files - await documents.still_named(files)):
            documents.path_of(sha).unlink(missing_ok=True)
    if flush:
        await checkpoint()
    return await borrowers.get_borrower(borrower_id)


async def purge(today: date, actor: str = "purge") -> list[str]:
    """Erase every borrower whose last loan or session ended more than the retention ago."""
    cutoff = today - timedelta(days=retention_days())
    erased = []
    for borrower in await Borrower.select().where(Borrower.anonymised_at.is_null()):
        if await Loan.exists().where((Loan.borrower == borrower["id"]) & (Loan.status == "open")):
            continue
        if await _last_activity(borrower["id"], borrower["created_at"]) < cutoff:
            await erase(borrower["id"], actor, flush=False)
            erased.append(borrower["code"])
    if erased:
        await checkpoint()
    return erased
