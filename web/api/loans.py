"""Loans: organisations, borrowers, programmes, checkouts, returns, repairs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import Parameter

from inventory.errors import Invalid
from loans import archive as archive_service
from loans import (
    borrowers,
    checkout,
    documents,
    privacy,
    queries,
    signing,
)
from loans import programmes as programme_service
from loans import repairs as repair_service
from loans import returns as return_service
from loans.tables import Borrower, Organisation, Programme, RepairTicket
from web.accounts import Principal
from web.api.loan_schemas import (
    BorrowerIn,
    CheckoutBody,
    LinkBody,
    OrganisationIn,
    ProgrammeIn,
    RepairCloseBody,
    ReturnBody,
)
from web.api.schemas import ArchiveIn
from web.roles import LENDING, MANAGERS, STAFF
from web.settings import base_url

Limit = Annotated[int, Parameter(ge=1, le=500)]
Offset = Annotated[int, Parameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer


def decode_image(text: str) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("La signature doit être une image encodée en base64.") from None


def pdf_response(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class OrganisationController(Controller):
    path = "/api/v1/organisations"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING})
    async def list_organisations(self, include_archived: bool = False) -> list[dict[str, Any]]:
        """Organisations that borrow now; `include_archived=true` lists the archived ones too."""
        query = Organisation.select().order_by(Organisation.name)
        if not include_archived:
            query = query.where(Organisation.archived_at.is_null())
        return await query

    @post("/", opt={"roles": LENDING})
    async def create_organisation(self, data: OrganisationIn) -> dict[str, Any]:
        return await borrowers.create_organisation(
            data.name, data.kind, data.commune, data.insee_code, data.qpv
        )

    @post("/{organisation_id:int}/archive", opt={"roles": MANAGERS}, status_code=200)
    async def archive(
        self, organisation_id: int, data: ArchiveIn, principal: Principal
    ) -> dict[str, Any]:
        """Retire an organisation (never deleted): its loans and reports keep it."""
        return await archive_service.archive_organisation(
            organisation_id, principal.actor, data.reason
        )


class BorrowerController(Controller):
    path = "/api/v1/borrowers"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING})
    async def list_borrowers(self, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        """Borrowers by pseudonymous code (personal data only on one borrower's record)."""
        return await Borrower.select().order_by(Borrower.id).limit(limit).offset(offset)

    @post("/", opt={"roles": LENDING})
    async def create_borrower(self, data: BorrowerIn) -> dict[str, Any]:
        return await borrowers.create_borrower(borrowers.BorrowerIn(**msgspec.structs.asdict(data)))

    @get("/{borrower_id:int}", opt={"roles": LENDING})
    async def get_borrower(self, borrower_id: int) -> dict[str, Any]:
        row = await borrowers.get_borrower(borrower_id)
        return {**row, "contact": await borrowers.get_contact(borrower_id)}

    @get("/{borrower_id:int}/export", opt={"roles": LENDING})
    async def export_json(self, borrower_id: int) -> dict[str, Any]:
        """Everything held about the borrower (right of access)."""
        return await privacy.export(borrower_id)

    @get("/{borrower_id:int}/export.pdf", opt={"roles": LENDING})
    async def export_pdf(self, borrower_id: int) -> Response[bytes]:
        return pdf_response(await privacy.export_pdf(borrower_id), f"donnees-{borrower_id}.pdf")

    @post("/{borrower_id:int}/erase", opt={"roles": MANAGERS}, status_code=200)
    async def erase(self, borrower_id: int, principal: Principal) -> dict[str, Any]:
        """Anonymise: the personal data goes, the pseudonymous code and statistics stay."""
        return await privacy.erase(borrower_id, principal.actor)


class ProgrammeController(Controller):
    path = "/api/v1/programmes"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING})
    async def list_programmes(self, include_archived: bool = False) -> list[dict[str, Any]]:
        """Programmes open to new loans; `include_archived=true` lists the archived ones too."""
        query = Programme.select().order_by(Programme.name)
        if not include_archived:
            query = query.where(Programme.archived_at.is_null())
        return await query.output(load_json=True)

    @post("/", opt={"roles": MANAGERS})
    async def create_programme(self, data: ProgrammeIn, principal: Principal) -> dict[str, Any]:
        """The page's rules and event: loans.programmes is the one way in."""
        fields = programme_service.ProgrammeFields(
            name=data.name,
            funder=data.funder,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            followups=(
                [{"label": f.label, "days": f.days} for f in data.followups]
                if data.followups is not None
                else None
            ),
            default_loan_days=data.default_loan_days,
            deposit_cents=data.deposit_cents,
        )
        return await programme_service.create(fields, principal.actor)

    @post("/{programme_id:int}/archive", opt={"roles": MANAGERS}, status_code=200)
    async def archive(
        self, programme_id: int, data: ArchiveIn, principal: Principal
    ) -> dict[str, Any]:
        """Retire a programme (never deleted): its loans, sessions and reports keep it."""
        return await archive_service.archive_programme(programme_id, principal.actor, data.reason)


class LoanController(Controller):
    path = "/api/v1/loans"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING})
    async def list_loans(
        self,
        loan_status: Annotated[Literal["open", "closed"] | None, Parameter(query="status")] = None,
        borrower: int | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        rows, total = await queries.list_loans(
            status=loan_status, borrower_id=borrower, limit=limit, offset=offset
        )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @post("/", opt={"roles": LENDING})
    async def checkout(self, data: CheckoutBody, principal: Principal) -> dict[str, Any]:
        """Lend one or many devices under the charter in force, with the signature; 409 when a
        device is not ready or another checkout won it."""
        if data.signature is None:
            raise Invalid("La charte n'est pas signée : tracez la signature ou joignez le scan.")
        new_borrower = (
            borrowers.BorrowerIn(**msgspec.structs.asdict(data.new_borrower))
            if data.new_borrower is not None
            else None
        )
        request = checkout.CheckoutIn(
            borrower_id=data.borrower_id,
            tags=list(data.tags),
            programme_id=data.programme_id,
            accessories=list(data.accessories),
            condition_out=data.condition_out,
            due_on=data.due_on,
            new_borrower=new_borrower,
        )
        signature = checkout.SignatureIn(
            method=data.signature.method,
            image=decode_image(data.signature.image_base64),
            signer_name=data.signature.signer_name,
            signer_role=data.signature.signer_role,
        )
        return await checkout.checkout(request, signature, principal.actor)

    @get("/{loan_id:int}", opt={"roles": LENDING})
    async def get_loan(self, loan_id: int) -> dict[str, Any]:
        return await queries.loan_detail(loan_id)

    @get("/{loan_id:int}/events", opt={"roles": LENDING})
    async def loan_events(self, loan_id: int) -> list[dict[str, Any]]:
        await queries.loan_detail(loan_id)
        return await queries.loan_events(loan_id)

    @get("/{loan_id:int}/charter.pdf", opt={"roles": LENDING})
    async def charter_pdf(self, loan_id: int) -> Response[bytes]:
        """The signed charter, byte for byte as stored under its SHA-256."""
        loan = await queries.loan_detail(loan_id)
        return pdf_response(documents.read(loan["document_sha256"]), f"charte-pret-{loan_id}.pdf")

    @post("/links", opt={"roles": LENDING})
    async def signing_link(self, data: LinkBody, principal: Principal) -> dict[str, Any]:
        """A one-time, expiring link to sign this loan elsewhere; the token is shown once."""
        request = checkout.CheckoutIn(
            borrower_id=data.borrower_id,
            tags=list(data.tags),
            programme_id=data.programme_id,
            accessories=list(data.accessories),
            condition_out=data.condition_out,
            due_on=data.due_on,
        )
        token, expires_at = await signing.create_link(request, principal.actor, data.hours)
        return {"url": f"{base_url()}/sign/{token}", "expires_at": expires_at}

    @post("/returns", opt={"roles": LENDING}, status_code=200)
    async def check_in(self, data: ReturnBody, principal: Principal) -> dict[str, Any]:
        """A device handed back: end of loan, repair (optional swap), loss or theft."""
        return await return_service.check_in(
            data.tag,
            return_service.ReturnIn(
                reason=data.reason,
                charger=data.charger,
                bag=data.bag,
                damage=data.damage,
                damage_notes=data.damage_notes,
                police_report=data.police_report,
                swap_tag=data.swap_tag,
            ),
            principal.actor,
        )


class RepairController(Controller):
    path = "/api/v1/repairs"
    tags = ["loans"]

    @get("/", opt={"roles": STAFF})
    async def list_repairs(self, open_only: bool = True) -> list[dict[str, Any]]:
        query = RepairTicket.select().order_by(RepairTicket.id)
        if open_only:
            query = query.where(RepairTicket.closed_at.is_null())
        return await query

    @post("/{ticket_id:int}/close", opt={"roles": STAFF}, status_code=200)
    async def close(
        self, ticket_id: int, data: RepairCloseBody, principal: Principal
    ) -> dict[str, Any]:
        """Repaired (back to the borrower without a wipe) or swapped on the same loan."""
        return await repair_service.close_ticket(
            ticket_id,
            outcome=data.outcome,
            actions=data.actions,
            parts=data.parts,
            actor=principal.actor,
            swap_tag=data.swap_tag,
            retire_reason=data.retire_reason,
        )
