"""One-time signing links: a school's head signs a prepared class-set loan on their own device.

Only the SHA-256 of the token is kept; a link expires and works once. Signing through it runs the
same checkout as the tablet, with the link marked used in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from loans import checkout
from loans.tables import SigningLink

DEFAULT_HOURS = 72


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _request_json(request: checkout.CheckoutIn) -> dict[str, Any]:
    return {
        "borrower_id": request.borrower_id,
        "tags": list(request.tags),
        "programme_id": request.programme_id,
        "accessories": list(request.accessories),
        "condition_out": request.condition_out,
        "due_on": request.due_on.isoformat() if request.due_on else None,
    }


def _request_of(data: dict[str, Any]) -> checkout.CheckoutIn:
    due = data.get("due_on")
    return checkout.CheckoutIn(
        borrower_id=data["borrower_id"],
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
        raise Invalid("Un lien de signature vit de 1 heure à 14 jours.")
    if request.borrower_id is None:
        raise Invalid("Un lien de signature se prépare pour un emprunteur déjà enregistré.")
    await checkout.prepare(request)
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(hours=hours)
    await SigningLink.insert(
        SigningLink(
            token_sha256=_digest(token),
            request=_request_json(request),
            expires_at=expires_at,
            created_by=actor,
        )
    )
    return token, expires_at


async def open_link(token: str) -> tuple[dict[str, Any], checkout.Prepared]:
    """The link's prepared loan, or why it cannot be used."""
    row = await (
        SigningLink.select()
        .where(SigningLink.token_sha256 == _digest(token or ""))
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound("Lien de signature inconnu.")
    if row["used_at"] is not None:
        raise Conflict("Ce lien de signature a déjà servi.")
    if row["expires_at"] < datetime.now(UTC):
        raise Conflict("Ce lien de signature a expiré : demandez-en un nouveau.")
    return row, await checkout.prepare(_request_of(row["request"]))


async def sign(token: str, image: bytes, signer_name: str, signer_role: str) -> dict[str, Any]:
    """Sign through the link: the link is used and the loan made in one transaction, or neither."""
    async with write_transaction(SigningLink):
        row, _ = await open_link(token)
        used = (
            await SigningLink.update({SigningLink.used_at: datetime.now(UTC)})
            .where((SigningLink.id == row["id"]) & SigningLink.used_at.is_null())
            .returning(SigningLink.id)
        )
        if not used:
            raise Conflict("Ce lien de signature a déjà servi.")
        loan = await checkout.checkout(
            _request_of(row["request"]),
            checkout.SignatureIn("link", image, signer_name, signer_role),
            f"lien:{row['created_by']}",
        )
        await SigningLink.update({SigningLink.loan_id: loan["id"]}).where(
            SigningLink.id == row["id"]
        )
        return loan
