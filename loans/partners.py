"""What a partner (a school, a social centre) sees of its own organisation, and its signature.

A partner's borrowers are those whose organisation or school is the partner's organisation.
It sees their loans, the devices of those loans, their codes (never names or contacts) and
their sessions. It signs the class-set loans prepared for its organisation (a signing request
made with a one-time link): the same checkout as the link, the request spent in the same
transaction. Nothing here reaches another organisation's rows.
"""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any

import msgspec

from inventory.clock import now
from inventory.db import write_transaction
from inventory.errors import Conflict, NotFound
from loans import checkout, signing
from loans.tables import Borrower, Loan, LoanDevice, MediationSession, Organisation, SigningLink

UNKNOWN_REQUEST = "Cette demande de signature n'existe pas ou ne concerne pas votre organisation."


async def organisation(organisation_id: int) -> dict[str, Any]:
    row = await Organisation.select().where(Organisation.id == organisation_id).first()
    if row is None:
        raise NotFound("Organisation inconnue.")
    return row


async def borrowers_of(organisation_id: int) -> list[dict[str, Any]]:
    """The organisation's borrowers: itself as a borrower, and its pupils or members."""
    return await (
        Borrower.select(Borrower.id, Borrower.code, Borrower.kind, Borrower.organisation)
        .where((Borrower.organisation == organisation_id) | (Borrower.school == organisation_id))
        .order_by(Borrower.code)
    )


async def loans_of(organisation_id: int) -> list[dict[str, Any]]:
    """The loans of the organisation's borrowers, newest first, each with its devices."""
    ids = [b["id"] for b in await borrowers_of(organisation_id)]
    if not ids:
        return []
    loans = await (
        Loan.select(
            Loan.id,
            Loan.borrower.code.as_alias("borrower_code"),
            Loan.status,
            Loan.opened_at,
            Loan.due_on,
            Loan.closed_at,
        )
        .where(Loan.borrower.is_in(ids))
        .order_by(Loan.id, ascending=False)
    )
    if not loans:
        return []
    devices = await (
        LoanDevice.select(
            LoanDevice.loan,
            LoanDevice.device.asset_tag.as_alias("asset_tag"),
            LoanDevice.device.kind.as_alias("kind"),
            LoanDevice.returned_at,
            LoanDevice.outcome,
        )
        .where(LoanDevice.loan.is_in([loan["id"] for loan in loans]))
        .order_by(LoanDevice.id)
    )
    for loan in loans:
        loan["devices"] = [d for d in devices if d["loan"] == loan["id"]]
    return loans


async def sessions_of(organisation_id: int) -> list[dict[str, Any]]:
    """Sessions of the organisation's borrowers or loans: planned ones first, then the others."""
    ids = [b["id"] for b in await borrowers_of(organisation_id)]
    if not ids:
        return []
    loan_ids = [r["id"] for r in await Loan.select(Loan.id).where(Loan.borrower.is_in(ids))]
    which = MediationSession.borrower.is_in(ids)
    if loan_ids:
        which |= MediationSession.loan.is_in(loan_ids)
    rows = await (
        MediationSession.select(
            MediationSession.id,
            MediationSession.label,
            MediationSession.status,
            MediationSession.planned_on,
            MediationSession.held_on,
            MediationSession.borrower.code.as_alias("borrower_code"),
            MediationSession.loan,
        )
        .where(which)
        .order_by(MediationSession.planned_on)
    )
    far = date.max
    rows.sort(
        key=lambda r: (r["status"] != "planned", r["planned_on"] or r["held_on"] or far, r["id"])
    )
    return rows


async def _signing_borrowers(organisation_id: int) -> dict[int, str]:
    """The borrowers a partner signs for: its organisation itself (class sets), by id → code."""
    rows = await Borrower.select(Borrower.id, Borrower.code).where(
        (Borrower.organisation == organisation_id)
        & (Borrower.kind == "organisation")
        & Borrower.anonymised_at.is_null()
    )
    return {r["id"]: r["code"] for r in rows}


def _is_for(request: dict[str, Any], organisation_id: int, codes: dict[int, str]) -> bool:
    """Whether a signing request is the organisation's: for its borrower record, or for the
    organisation itself when the record is to be made with the loan."""
    borrower_id = request.get("borrower_id")
    if borrower_id is not None:
        return borrower_id in codes
    return request.get("organisation_id") == organisation_id


async def _checkout_request(request: dict[str, Any]) -> checkout.CheckoutIn:
    """The checkout a signing request stands for, read as loans.signing reads it."""
    made = signing._request_of(request)
    return await made if inspect.isawaitable(made) else made


async def pending_requests(organisation_id: int) -> list[dict[str, Any]]:
    """Signing requests waiting for the organisation: not used, not expired, for its borrowers."""
    codes = await _signing_borrowers(organisation_id)
    rows = await (
        SigningLink.select(
            SigningLink.id, SigningLink.request, SigningLink.expires_at, SigningLink.created_by
        )
        .where(SigningLink.used_at.is_null() & (SigningLink.expires_at > now()))
        .order_by(SigningLink.id)
        .output(load_json=True)
    )
    pending = []
    for row in rows:
        request = row["request"] or {}
        if _is_for(request, organisation_id, codes):
            pending.append(
                {
                    "id": row["id"],
                    "borrower_code": codes.get(int(request.get("borrower_id") or 0), ""),
                    "tags": list(request.get("tags", [])),
                    "expires_at": row["expires_at"],
                    "created_by": row["created_by"],
                }
            )
    return pending


async def _request_row(link_id: int, organisation_id: int) -> dict[str, Any]:
    row = await SigningLink.select().where(SigningLink.id == link_id).first().output(load_json=True)
    codes = await _signing_borrowers(organisation_id)
    if row is None or not _is_for(row["request"] or {}, organisation_id, codes):
        raise NotFound(UNKNOWN_REQUEST)
    if row["used_at"] is not None:
        raise Conflict("Cette demande de signature a déjà été signée.")
    if row["expires_at"] < now():
        raise Conflict("Cette demande de signature a expiré : demandez-en une nouvelle.")
    return row


async def open_request(link_id: int, organisation_id: int) -> checkout.Prepared:
    """The prepared loan of a pending request of this organisation, or why it cannot be signed."""
    row = await _request_row(link_id, organisation_id)
    return await checkout.prepare(await _checkout_request(row["request"]))


async def sign_request(
    link_id: int, organisation_id: int, signature: checkout.SignatureIn, actor: str
) -> dict[str, Any]:
    """The partner signs its class-set loan: the request is spent and the loan made together.
    The signed charter is rendered first, outside the transaction, from the data it commits;
    it is signed as through a link (the request was prepared for one)."""
    row = await _request_row(link_id, organisation_id)
    signature = msgspec.structs.replace(signature, method=checkout.SignatureMethod.link)
    signed = await checkout.sign(await _checkout_request(row["request"]), signature)
    async with write_transaction(SigningLink):
        row = await _request_row(link_id, organisation_id)
        used = (
            await SigningLink.update({SigningLink.used_at: now()})
            .where((SigningLink.id == row["id"]) & SigningLink.used_at.is_null())
            .returning(SigningLink.id)
        )
        if not used:
            raise Conflict("Cette demande de signature a déjà été signée.")
        loan = await checkout.commit(signed, actor)
        await SigningLink.update({SigningLink.loan_id: loan["id"]}).where(
            SigningLink.id == row["id"]
        )
        return loan


async def summary(organisation_id: int) -> dict[str, Any]:
    """Counts for the dashboard: open loans, devices out, planned sessions, pending signatures."""
    loans = await loans_of(organisation_id)
    open_loans = [loan for loan in loans if loan["status"] == "open"]
    sessions = await sessions_of(organisation_id)
    return {
        "open_loans": len(open_loans),
        "devices_out": sum(
            1 for loan in open_loans for d in loan["devices"] if d["returned_at"] is None
        ),
        "planned_sessions": sum(1 for s in sessions if s["status"] == "planned"),
        "pending_signatures": len(await pending_requests(organisation_id)),
    }
