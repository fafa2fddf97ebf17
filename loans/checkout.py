"""Checkout under a signed charter (invariant 2): one transaction for one or many devices.

`sign` checks the command and renders the signed charter PDF in a renderer process, outside any
transaction (it takes a quarter of a second or more); `commit` then, in one transaction, creates
the new borrower if any, moves every device with its event and records the files by their
SHA-256 — or does none of it. A loan never exists without its signed charter.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.clock import now
from inventory.db import write_transaction
from inventory.errors import Conflict, FieldInvalid, Invalid
from inventory.states import N_, STATE_LABELS_FR, DeviceState
from labels.pdf import render_pdf_async
from loans import (
    borrowers,
    charter,
    deposits,
    documents,
    mediation,
    memberships,
    programmes,
    queries,
)
from loans.memberships import Payment, PaymentMethod
from loans.tables import Loan, LoanDevice, Signature

TEMPLATES = Path(__file__).parent / "templates"
MAX_DEVICES = 60
MAX_ACCESSORIES = 20
LINK_HOURS = 72  # a signing link's default life (loans.signing.DEFAULT_HOURS)
# The accessories a checkout form offers as boxes to tick; any other one is typed.
ACCESSORIES = ("chargeur", "sacoche", "souris")


class SignerRole(StrEnum):
    self = "self"
    legal_guardian = "legal_guardian"
    school_representative = "school_representative"


class SignatureMethod(StrEnum):
    drawn = "drawn"
    paper = "paper"
    link = "link"


SIGNER_ROLES = {
    SignerRole.self: N_("L'emprunteur ou l'emprunteuse"),
    SignerRole.legal_guardian: N_("Représentant légal"),
    SignerRole.school_representative: N_("Représentant de l'établissement"),
}
METHODS = {
    SignatureMethod.drawn: N_("Signature tracée sur la tablette"),
    SignatureMethod.paper: N_("Charte signée sur papier, scannée"),
    SignatureMethod.link: N_("Signature par lien à usage unique"),
}

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]


class SignatureIn(msgspec.Struct, forbid_unknown_fields=True):
    """The drawn signature (PNG from the canvas) or the paper scan (PNG or JPEG); in JSON the
    image is base64 text under `image_base64`."""

    method: SignatureMethod
    image: Annotated[bytes, msgspec.Meta(max_length=6_750_000)] = msgspec.field(name="image_base64")
    signer_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    signer_role: SignerRole

    field_labels: ClassVar[dict[str, str]] = {
        "method": "Mode de signature",
        "image_base64": "Signature",
        "signer_name": "Nom de la personne qui signe",
        "signer_role": "Qualité du signataire",
    }


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    """One checkout (POST /api/v1/loans, the /loans/new form, a signing link): a known borrower
    (`borrower_id`) or one made with the loan (`new_borrower`), the devices by tag, and the
    signature (given at the counter; later for a link)."""

    borrower_id: int | None = None
    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=MAX_DEVICES)] = []
    programme_id: int | None = None
    accessories: Annotated[list[Text200], msgspec.Meta(max_length=MAX_ACCESSORIES)] = []
    condition_out: Text2000 = ""
    due_on: date | None = None
    new_borrower: borrowers.BorrowerIn | None = None
    signature: SignatureIn | None = None
    # What the counter records for the programme's membership fee and deposit when due.
    membership_payment: Payment | None = None
    membership_method: PaymentMethod | None = None
    deposit_payment: Payment | None = None
    deposit_method: PaymentMethod | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "borrower_id": "Emprunteur",
        "tags": "Appareils",
        "programme_id": "Programme",
        "accessories": "Accessoires",
        "condition_out": "État au départ",
        "due_on": "Date de retour prévue",
        "new_borrower": "Nouvel emprunteur",
        "signature": "Signature",
        "membership_payment": "Adhésion",
        "membership_method": "Moyen de paiement de l'adhésion",
        "deposit_payment": "Dépôt de garantie",
        "deposit_method": "Moyen de paiement du dépôt",
        **borrowers.BorrowerIn.field_labels,
        **SignatureIn.field_labels,
    }


class LinkIn(CheckoutIn, forbid_unknown_fields=True):
    """A checkout prepared for signing through a one-time link (POST /api/v1/loans/links): the
    same command, without the signature (given through the link), and the link's life."""

    hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 14)] = LINK_HOURS


class LinkOut(msgspec.Struct):
    """The link, shown once (only its digest is kept), and when it expires."""

    url: str
    expires_at: datetime


def decode_image(text: str) -> bytes:
    """A base64 image, bare or as a `data:` URL (the signature canvas), as bytes."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FieldInvalid(
            "image_base64", "La signature doit être une image encodée en base64."
        ) from None


@dataclass
class Due:
    """A membership fee or deposit due at checkout, and what the counter recorded for it."""

    cents: int
    payment: Payment
    method: str

    @property
    def paid_cents(self) -> int:
        return self.cents if self.payment == Payment.paid else 0


@dataclass
class Prepared:
    borrower: dict[str, Any]
    # A borrower created by this checkout: written in its transaction, or not at all.
    new_borrower: borrowers.NewBorrower | None
    programme: dict[str, Any] | None
    charter: dict[str, Any]
    devices: list[dict[str, Any]]
    accessories: list[str]
    condition_out: str
    due_on: date | None
    membership: Due | None = None
    deposit: Due | None = None


def euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def _due(
    what: tuple[str, str, str],
    field: str,
    cents: int,
    payment: Payment | None,
    method: PaymentMethod | None,
) -> Due:
    """The counter's record of a fee or deposit that is due; refused if it says nothing.
    `what`: the thing, then "due"/"paid" agreeing with it ("L'adhésion", "due", "payée")."""
    thing, due, paid = what
    if payment is None:
        raise FieldInvalid(
            f"{field}_payment",
            f"{thing} de {euros(cents)} est {due} : enregistrez son paiement ou son exonération "
            "avant de prêter.",
        )
    if payment == Payment.paid and method is None:
        raise FieldInvalid(
            f"{field}_method",
            f"{thing} est {paid} : dites comment (espèces, chèque, virement ou autre).",
        )
    return Due(cents, payment, str(method) if payment == Payment.paid and method else "")


async def dues(
    request: CheckoutIn, borrower: dict[str, Any], programme: dict[str, Any] | None
) -> tuple[Due | None, Due | None]:
    """The membership fee and deposit this checkout owes under its programme, as recorded."""
    if programme is None:
        return None, None
    membership = None
    if programme.get("membership_required"):
        valid = (
            await memberships.current(borrower["id"], date.today(), programme["id"])
            if borrower.get("id")
            else None
        )
        if valid is None:
            membership = _due(
                ("L'adhésion", "due", "payée"),
                "membership",
                programme["membership_fee_cents"],
                request.membership_payment,
                request.membership_method,
            )
    deposit = None
    if programme["deposit_cents"]:
        deposit = _due(
            ("Le dépôt de garantie", "dû", "payé"),
            "deposit",
            programme["deposit_cents"],
            request.deposit_payment,
            request.deposit_method,
        )
    return membership, deposit


@dataclass
class Signed:
    """A checkout ready to commit: checked, its charter signed and rendered (no write yet)."""

    prepared: Prepared
    signature: SignatureIn
    signer_name: str
    signed_at: datetime
    pdf: bytes
    pdf_sha: str
    image_sha: str
    media_type: str


def _check_signer(borrower: dict[str, Any], signature: SignatureIn) -> str:
    name = (signature.signer_name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("Indiquez le nom de la personne qui signe (200 caractères au plus).")
    role = signature.signer_role
    if role not in SIGNER_ROLES:
        raise Invalid(
            "Qualité du signataire attendue : self, legal_guardian, school_representative."
        )
    if borrower["kind"] == "organisation" and role != "school_representative":
        raise Invalid("Pour une organisation, signe son représentant (school_representative).")
    if borrower["kind"] == "household" and borrower["is_minor"] and role != "legal_guardian":
        raise Invalid(
            "L'emprunteur est mineur : la charte doit être signée par son représentant légal."
        )
    if borrower["kind"] == "household" and role == "school_representative":
        raise Invalid("Un foyer signe lui-même, ou par son représentant légal.")
    if signature.method not in set(SignatureMethod):
        raise Invalid("Mode de signature attendu : drawn, paper ou link.")
    if not signature.image:
        raise Invalid("La charte n'est pas signée : tracez la signature ou joignez le scan.")
    return name


async def prepare(request: CheckoutIn) -> Prepared:
    """Check everything a checkout needs except the signature; raise with a sentence if not."""
    new_borrower = None
    if request.new_borrower is not None and request.borrower_id is not None:
        raise Invalid("Choisissez un emprunteur existant ou créez-en un, pas les deux.")
    if request.new_borrower is not None:
        new_borrower = await borrowers.check_borrower(request.new_borrower)
        borrower = {**new_borrower.row, "id": None, "anonymised_at": None}
    elif request.borrower_id is not None:
        borrower = await borrowers.get_borrower(request.borrower_id)
    else:
        raise Invalid("Choisissez un emprunteur ou créez-en un.")
    if borrower["anonymised_at"] is not None:
        raise Conflict("Cet emprunteur a été anonymisé : créez une nouvelle fiche.")
    programme = (
        await programmes.get_programme(request.programme_id) if request.programme_id else None
    )
    if programme is not None and programme["archived_at"] is not None:
        name = programme["name"]
        raise Invalid(f"Le programme « {name} » est archivé : il n'ouvre plus de prêt.")
    tags = [t.strip() for t in request.tags if t and t.strip()]
    if not tags:
        raise Invalid("Scannez au moins un appareil à prêter.")
    if len(tags) > MAX_DEVICES:
        raise Invalid(f"Un prêt compte {MAX_DEVICES} appareils au plus.")
    rows = [await devices.get_device(tag) for tag in tags]
    seen: set[int] = set()
    for row in rows:
        if row["id"] in seen:
            raise Invalid(f"L'appareil {row['asset_tag']} est scanné deux fois.")
        seen.add(row["id"])
        if row["state"] != DeviceState.ready:
            label = STATE_LABELS_FR[DeviceState(row["state"])]
            raise Conflict(
                f"L'appareil {row['asset_tag']} n'est pas prêt à être prêté "
                f"(état « {label} ») : rien n'a été enregistré."
            )
    accessories = [a.strip()[:100] for a in request.accessories if a and a.strip()]
    if len(accessories) > MAX_ACCESSORIES:
        raise Invalid(f"{MAX_ACCESSORIES} accessoires au plus.")
    due_on = request.due_on
    if due_on is None and programme and programme["default_loan_days"]:
        due_on = date.today() + timedelta(days=programme["default_loan_days"])
    if due_on is not None and due_on < date.today():
        raise Invalid("La date de retour prévue est déjà passée.")
    membership, deposit = await dues(request, borrower, programme)
    return Prepared(
        borrower=borrower,
        new_borrower=new_borrower,
        programme=programme,
        charter=await charter.in_force(),
        devices=rows,
        accessories=accessories,
        condition_out=(request.condition_out or "").strip()[:2000],
        due_on=due_on,
        membership=membership,
        deposit=deposit,
    )


def _money_line(due: Due | None) -> str:
    """How a fee or deposit reads on the charter: amount, paid or waived, and how."""
    if due is None:
        return ""
    if due.payment == Payment.waived:
        return f"{euros(due.cents)} — exonéré"
    how = memberships.METHOD_LABELS[PaymentMethod(due.method)].lower()
    return f"{euros(due.cents)} — payé ({how})"


async def signed_charter_pdf(
    prepared: Prepared, signer_name: str, signature: SignatureIn, media_type: str, at: datetime
) -> bytes:
    """The signed charter, laid out in a renderer process: never call it inside a transaction."""
    image_uri = f"data:{media_type};base64," + base64.b64encode(signature.image).decode()
    context = {
        "title": prepared.charter["title"],
        "charter_version": prepared.charter["version"],
        "in_force_from": prepared.charter["in_force_from"].strftime("%d/%m/%Y"),
        "charter_html": charter.to_html(prepared.charter["text"]),
        "devices": prepared.devices,
        "borrower_code": prepared.borrower["code"],
        "programme": prepared.programme["name"] if prepared.programme else "",
        "accessories": prepared.accessories,
        "condition_out": prepared.condition_out,
        "due_on": prepared.due_on.strftime("%d/%m/%Y") if prepared.due_on else "",
        "signer_name": signer_name,
        "signer_role_label": SIGNER_ROLES[SignerRole(signature.signer_role)],
        "signed_at": at.strftime("%d/%m/%Y %H:%M UTC"),
        "method_label": METHODS[SignatureMethod(signature.method)],
        "signature_uri": image_uri,
        "membership": _money_line(prepared.membership),
        "deposit": _money_line(prepared.deposit),
    }
    return await render_pdf_async("loan_charter.html", context, pdfa=True, search_path=[TEMPLATES])


async def sign(request: CheckoutIn, signature: SignatureIn) -> Signed:
    """Check the checkout and its signature and render the signed charter; writes nothing and
    opens no transaction (call it before the caller's transaction, then `commit` inside)."""
    prepared = await prepare(request)
    signer_name = _check_signer(prepared.borrower, signature)
    media_type = documents.image_type(signature.image)
    signed_at = now()
    pdf = await signed_charter_pdf(prepared, signer_name, signature, media_type, signed_at)
    return Signed(
        prepared=prepared,
        signature=signature,
        signer_name=signer_name,
        signed_at=signed_at,
        pdf=pdf,
        pdf_sha=documents.digest(pdf),
        image_sha=documents.digest(signature.image),
        media_type=media_type,
    )


async def checkout(
    request: CheckoutIn, signature: SignatureIn | None, actor: str
) -> dict[str, Any]:
    """Lend the devices under the charter in force; all of them in one transaction, or none.
    `signature` defaults to the command's own."""
    signature = signature or request.signature
    if signature is None:
        raise FieldInvalid(
            "signature", "La charte n'est pas signée : tracez la signature ou joignez le scan."
        )
    signed = await sign(request, signature)
    async with write_transaction(Loan):
        return await commit(signed, actor)


async def at_counter(request: CheckoutIn, actor: str) -> dict[str, Any]:
    """A checkout at the counter (the API and the /loans/new page): signed there, drawn on the
    tablet or scanned from paper — a link's signature comes only through its link."""
    if request.signature is not None and request.signature.method == SignatureMethod.link:
        raise FieldInvalid("method", "Au comptoir, la charte est tracée ou scannée (drawn, paper).")
    return await checkout(request, request.signature, actor)


async def commit(signed: Signed, actor: str) -> dict[str, Any]:
    """Write a signed checkout; inside the caller's write transaction (or one of its own)."""
    prepared, signature, signed_at = signed.prepared, signed.signature, signed.signed_at
    pdf, pdf_sha, image_sha = signed.pdf, signed.pdf_sha, signed.image_sha
    borrower, programme, terms = prepared.borrower, prepared.programme, prepared.charter
    async with write_transaction(Loan):
        if prepared.new_borrower is not None:
            borrower = await borrowers.insert_borrower(prepared.new_borrower)
        rows = await Loan.insert(
            Loan(
                borrower=borrower["id"],
                programme=programme["id"] if programme else None,
                charter=terms["id"],
                charter_version=terms["version"],
                charter_text=terms["text"],
                accessories=prepared.accessories,
                condition_out=prepared.condition_out,
                due_on=prepared.due_on,
                deposit_cents=programme["deposit_cents"] if programme else 0,
                status="open",
                opened_at=signed_at,
                document_sha256=pdf_sha,
                created_by=actor,
            )
        ).returning(Loan.id)
        loan_id = rows[0]["id"]
        await documents.record(pdf_sha, "signed_charter", "application/pdf", len(pdf))
        await documents.record(image_sha, "signature", signed.media_type, len(signature.image))
        await Signature.insert(
            Signature(
                loan=loan_id,
                method=str(signature.method),
                image_sha256=image_sha,
                signer_name=signed.signer_name,
                signer_role=str(signature.signer_role),
                signed_at=signed_at,
                staff_actor=actor,
            )
        )
        note = f"Charte v{terms['version']} signée, PDF SHA-256 {pdf_sha}"
        for device in prepared.devices:
            await devices.apply_transition(
                device["asset_tag"],
                "checkout",
                actor,
                note=note,
                expected_version=device["version"],
                domain_facts={"charter_signed": True},
                loan_id=loan_id,
            )
            await LoanDevice.insert(LoanDevice(loan=loan_id, device=device["id"], out_at=signed_at))
        # Pseudonymous payload: the borrower's code and the signer's role, never a name.
        await devices.write_event(
            None,
            actor,
            "loan_opened",
            None,
            None,
            {
                "document_sha256": pdf_sha,
                "signature_sha256": image_sha,
                "charter_version": terms["version"],
                "signature_method": str(signature.method),
                "signer_role": str(signature.signer_role),
                "borrower": borrower["code"],
                "programme": programme["name"] if programme else None,
                "devices": [d["asset_tag"] for d in prepared.devices],
                "due_on": prepared.due_on.isoformat() if prepared.due_on else None,
            },
            loan_id=loan_id,
        )
        if programme is not None and prepared.membership is not None:
            await memberships.record(
                borrower=borrower,
                programme=programme,
                status=memberships.MembershipStatus(str(prepared.membership.payment)),
                method=prepared.membership.method,
                actor=actor,
                at=signed_at,
                loan_id=loan_id,
            )
        if prepared.deposit is not None:
            await deposits.record(
                loan_id,
                prepared.deposit.cents,
                deposits.DepositStatus(str(prepared.deposit.payment)),
                prepared.deposit.method,
                actor,
                signed_at,
            )
        await mediation.plan_followups(loan_id, borrower["id"], programme, signed_at.date(), actor)
        # Files last, once every device is won: a refused checkout leaves no file behind.
        documents.write_file(pdf)
        documents.write_file(signature.image)
        return await get_loan(loan_id)


async def get_loan(loan_id: int) -> dict[str, Any]:
    return await queries.loan_detail(loan_id)
