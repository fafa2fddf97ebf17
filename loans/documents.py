"""Files stored by their SHA-256 under the data directory, with a row that names their kind."""

from __future__ import annotations

import hashlib
from pathlib import Path

from inventory import datadir
from inventory.clock import now
from inventory.config import data_dir
from inventory.errors import Invalid, NotFound
from loans.tables import Document, Loan, Signature

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def folder() -> Path:
    return data_dir() / "documents"


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def path_of(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("Document inconnu.")
    return folder() / sha256


def write_file(content: bytes) -> str:
    """Write the bytes under their hash (idempotent, atomic) and return the hash."""
    sha = digest(content)
    target = path_of(sha)
    if not target.exists():
        # Signed charters and signatures: readable by the server's account only (0600).
        datadir.write_private(target, content)
    return sha


async def record(sha256: str, kind: str, media_type: str, size: int) -> None:
    """The row of a stored file; run inside the transaction of what it documents."""
    # The same bytes may be recorded by two transactions at once (one scan, two loans).
    await Document.insert(
        Document(
            sha256=sha256,
            kind=kind,
            media_type=media_type,
            size_bytes=size,
            created_at=now(),
        )
    ).on_conflict(target=Document.sha256, action="DO NOTHING")


async def still_named(shas: set[str]) -> set[str]:
    """Those of `shas` that a loan of a borrower not anonymised names, as its signed charter or
    its signature image (the only records that name loan files; certificates are `<sha>.pdf`).

    The same bytes are one file: erasing one borrower must not delete another's signature."""
    if not shas:
        return set()
    wanted = sorted(shas)
    alive = Loan.borrower.anonymised_at.is_null()
    charters = await Loan.select(Loan.document_sha256).where(
        Loan.document_sha256.is_in(wanted) & alive
    )
    images = await Signature.select(Signature.image_sha256).where(
        Signature.image_sha256.is_in(wanted) & Signature.loan._.borrower._.anonymised_at.is_null()
    )
    return {r["document_sha256"] for r in charters} | {r["image_sha256"] for r in images}


def read(sha256: str) -> bytes:
    path = path_of(sha256)
    if not path.exists():
        raise NotFound("Document introuvable sur le disque.")
    return path.read_bytes()


def image_type(content: bytes) -> str:
    """The media type of an uploaded signature or scan; only PNG and JPEG are taken."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid("Image trop lourde (8 Mo au plus).")
    if content.startswith(PNG_MAGIC):
        return "image/png"
    if content.startswith(JPEG_MAGIC):
        return "image/jpeg"
    raise Invalid("La signature ou le scan doit être une image PNG ou JPEG.")
