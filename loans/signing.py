"""One-time signing links: a school's head signs a prepared class-set loan on their own device.

Only the SHA-256 of the token is kept; a link expires and works once. Signing through it runs the
same checkout as the tablet, with the link marked used in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from loans import borrowers, checkout
from loans.tables import Borrower, Loan, SigningLink

DEFAULT_HOURS = 72
# After signing, the link still gives the signer their signed charter, for this long only.
DOWNLOAD_HOURS = 24


class LinkSignatureIn(msgspec.Struct, forbid_unknown_fields=True):
    """Signing through a link (the /sign/<token> page): who signs, as what, and the drawing
    from the canvas (a PNG as a `data:` URL or bare base64)."""

    signer_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    signer_role: checkout.SignerRole
    signature_data: Annotated[str, msgspec.Meta(max_length=9_000_000)] = ""

    field_labels: ClassVar[dict[str, str]] = {
        "signer_name": "Nom de la personne qui signe",
        "signer_role": "Qualité du signataire",
        "signature_data": "Signature",
    }

    def signature(self) -> checkout.SignatureIn:
        """The checkout's signature: drawn through the link."""
        image = checkout.decode_image(self.signature_data) if self.signature_data else b""
        return checkout.SignatureIn(
            method=checkout.SignatureMethod.link,
            image=image,
            signer_name=self.signer_name,
            signer_role=self.signer_role,
        )


class SignedLoan(msgspec.Struct):
    """The loan signed through a link, for its signer to download the signed charter."""

    id: int
    document_sha256: str
    signed_at: datetime
    available_until: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_organisation(request: checkout.CheckoutIn) -> int | None:
    """The organisation of a borrower record to be made with the loan (it holds no personal
    data, so the link may carry it); None for anything else."""
    new = request.new_borrower
    if new is not None and new.kind == "organisation" and new.organisation_id is not None:
        return new.organisation_id
    return None


def _request_json(request: checkout.CheckoutIn) -> dict[str, Any]:
    return {
        "borrower_id": request.borrower_id,
        "organisation_id": _new_organisation(request),
        "tags": list(request.tags),
        "programme_id": request.programme_id,
        "accessories": list(request.accessories),
        "condition_out": request.condition_out,
        "due_on": request.due_on.isoformat() if request.due_on else None,
    }


async def _request_of(data: dict[str, Any]) -> checkout.CheckoutIn:
    due = data.get("due_on")
    borrower_id, new_borrower = data["borrower_id"], None
    if borrower_id is None and data.get("organisation_id") is not None:
        # An organisation without a borrower record when the link was made: the record it has
        # now (another loan may have made it), else one made with this loan.
        row = await (
            Borrower.select(Borrower.id)
            .where(
                (Borrower.organisation == data["organisation_id"])
                & (Borrower.kind == "organisation")
                & Borrower.anonymised_at.is_null()
            )
            .first()
        )
        if row is not None:
            borrower_id = row["id"]
        else:
            new_borrower = borrowers.BorrowerIn(
                kind=borrowers.BorrowerKind.organisation, organisation_id=data["organisation_id"]
            )
    return checkout.CheckoutIn(
        borrower_id=borrower_id,
        new_borrower=new_borrower,
        tags=data["tags"],
        programme_id=data.get("programme_id"),
        accessories=data.get("accessories", []),
        condition_out=data.get("condition_out", ""),
        due_on=date.fromisoformat(due) if due else None,
    )


async def create_link(
    request: checkout.CheckoutIn, actor: str, hours: int = DEFAULT_HOURS
) -> tuple[str, datetime]:
    """Check the loan can be made now, and return a fresh token and its expiry."""
    if not 1 <= hours <= 24 * 14:
        raise FieldInvalid("hours", "Un lien de signature vit de 1 heure à 14 jours.")
    if request.borrower_id is None and _new_organisation(request) is None:
        raise Invalid(
            "Un lien de signature se prépare pour un emprunteur déjà enregistré ou une "
            "organisation : un nouveau foyer signe la charte ici, sur la tablette."
        )
    await checkout.prepare(request)
    token = secrets.token_urlsafe(32)
    expires_at = now() + timedelta(hours=hours)
    await SigningLink.insert(
        SigningLink(
            token_sha256=_digest(token),
            request=_request_json(request),
            expires_at=expires_at,
            created_by=actor,
        )
    )
    return token, expires_at


async def _find(token: str) -> dict[str, Any]:
    row = await (
        SigningLink.select()
        .where(SigningLink.token_sha256 == _digest(token or ""))
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound("Lien de signature inconnu.")
    return row


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _usable(row: dict[str, Any]) -> None:
    if row["used_at"] is not None:
        raise Conflict("Ce lien de signature a déjà servi.")
    if _as_utc(row["expires_at"]) < now():
        raise Conflict("Ce lien de signature a expiré : demandez-en un nouveau.")


async def open_link(token: str) -> tuple[dict[str, Any], checkout.Prepared]:
    """The link's prepared loan, or why it cannot be used."""
    row = await _find(token)
    _usable(row)
    return row, await checkout.prepare(await _request_of(row["request"]))


async def sign(token: str, command: LinkSignatureIn) -> dict[str, Any]:
    """Sign through the link: the link is used and the loan made in one transaction, or neither.

    The signed charter is laid out before the transaction (checkout.sign), never inside it."""
    command = checked(command)
    row, _ = await open_link(token)
    signed = await checkout.sign(await _request_of(row["request"]), command.signature())
    async with write_transaction(SigningLink):
        current = await _find(token)
        _usable(current)
        used = (
            await SigningLink.update({SigningLink.used_at: now()})
            .where((SigningLink.id == row["id"]) & SigningLink.used_at.is_null())
            .returning(SigningLink.id)
        )
        if not used:
            raise Conflict("Ce lien de signature a déjà servi.")
        loan = await checkout.commit(signed, f"lien:{row['created_by']}")
        await SigningLink.update({SigningLink.loan_id: loan["id"]}).where(
            SigningLink.id == row["id"]
        )
        return loan


async def signed_loan(token: str, at: datetime | None = None) -> SignedLoan:
    """The loan signed through this link, for its signer to download the signed charter: only
    with the token, and only for DOWNLOAD_HOURS after signing."""
    row = await _find(token)
    if row["used_at"] is None or row["loan_id"] is None:
        raise NotFound("Cette charte n'est pas encore signée.")
    at = at or now()
    if _as_utc(row["used_at"]) + timedelta(hours=DOWNLOAD_HOURS) < at:
        raise Conflict(
            f"La charte signée ne se télécharge plus par ce lien ({DOWNLOAD_HOURS} heures après "
            "la signature) : demandez-la à l'association."
        )
    loan = await Loan.select().where(Loan.id == row["loan_id"]).first()
    if loan is None:
        raise NotFound("Prêt introuvable.")
    return SignedLoan(
        id=loan["id"],
        document_sha256=loan["document_sha256"],
        signed_at=_as_utc(row["used_at"]),
        available_until=_as_utc(row["used_at"]) + timedelta(hours=DOWNLOAD_HOURS),
    )
