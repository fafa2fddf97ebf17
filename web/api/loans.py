"""Loans: organisations, borrowers, programmes, checkouts, returns, repairs.

Each body is the command struct of the loans module that executes it; each answer is the
response struct beside that service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from inventory.archive import ArchiveIn
from inventory.errors import FieldInvalid
from loans import archive as archive_service
from loans import (
    borrowers,
    cession,
    checkout,
    deposits,
    documents,
    memberships,
    privacy,
    queries,
    signing,
)
from loans import programmes as programme_service
from loans import repairs as repair_service
from loans import returns as return_service
from loans.borrowers import BorrowerDetail, BorrowerIn, BorrowerOut, OrganisationIn, OrganisationOut
from loans.cession import CessionIn, CessionOut
from loans.checkout import CheckoutIn, LinkIn, LinkOut
from loans.deposits import DepositOut, DepositSettleIn, LoanMoneyOut
from loans.memberships import MembershipOut, MembershipRefundIn
from loans.privacy import BorrowerExport
from loans.programmes import ProgrammeIn, ProgrammeOut
from loans.queries import LoanEvent, LoanOut, LoanPage
from loans.repairs import RepairCloseIn, RepairTicketOut
from loans.returns import ReturnIn
from loans.tables import Borrower, Organisation, Programme, RepairTicket
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import LENDING, MANAGERS, STAFF
from web.settings import base_url

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer
Archived = Annotated[bool, QueryParameter()]
Actor = NamedDependency[Principal]


def pdf_response(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


T = TypeVar("T", bound=msgspec.Struct)


def _convert(rows: list[dict[str, Any]], kind: type[T]) -> list[T]:
    return [msgspec.convert(row, kind) for row in rows]


class OrganisationController(Controller):
    path = "/api/v1/organisations"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def list_organisations(self, include_archived: Archived = False) -> list[OrganisationOut]:
        """Organisations that borrow now; `include_archived=true` lists the archived ones too."""
        query = Organisation.select().order_by(Organisation.name)
        if not include_archived:
            query = query.where(Organisation.archived_at.is_null())
        return _convert(await query, OrganisationOut)

    @post("/", opt={"roles": LENDING}, responses=errors(422))
    async def create_organisation(self, data: JSONBody[OrganisationIn]) -> OrganisationOut:
        return msgspec.convert(await borrowers.add_organisation(data), OrganisationOut)

    @post(
        "/{organisation_id:int}/archive",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def archive(
        self, organisation_id: FromPath[int], data: JSONBody[ArchiveIn], principal: Actor
    ) -> OrganisationOut:
        """Retire an organisation (never deleted): its loans and reports keep it."""
        row = await archive_service.archive_organisation(
            organisation_id, principal.actor, data.reason
        )
        return msgspec.convert(row, OrganisationOut)


class BorrowerController(Controller):
    path = "/api/v1/borrowers"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def list_borrowers(self, limit: Limit = 100, offset: Offset = 0) -> list[BorrowerOut]:
        """Borrowers by pseudonymous code (personal data only on one borrower's record)."""
        rows = await Borrower.select().order_by(Borrower.id).limit(limit).offset(offset)
        return _convert(rows, BorrowerOut)

    @post("/", opt={"roles": LENDING}, responses=errors(404, 422))
    async def create_borrower(self, data: JSONBody[BorrowerIn]) -> BorrowerOut:
        return msgspec.convert(await borrowers.create_borrower(data), BorrowerOut)

    @get("/{borrower_id:int}", opt={"roles": LENDING}, responses=errors(404))
    async def get_borrower(self, borrower_id: FromPath[int]) -> BorrowerDetail:
        row = await borrowers.get_borrower(borrower_id)
        contact = await borrowers.get_contact(borrower_id)
        return msgspec.convert({**row, "contact": contact}, BorrowerDetail)

    @get("/{borrower_id:int}/export", opt={"roles": LENDING}, responses=errors(404))
    async def export_json(self, borrower_id: FromPath[int]) -> BorrowerExport:
        """Everything held about the borrower (right of access)."""
        return msgspec.convert(await privacy.export(borrower_id), BorrowerExport, strict=False)

    @get(
        "/{borrower_id:int}/export.pdf",
        opt={"roles": LENDING},
        responses=errors(404),
        media_type="application/pdf",
    )
    async def export_pdf(self, borrower_id: FromPath[int]) -> Response[bytes]:
        return pdf_response(await privacy.export_pdf(borrower_id), f"donnees-{borrower_id}.pdf")

    @post(
        "/{borrower_id:int}/erase",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409),
    )
    async def erase(self, borrower_id: FromPath[int], principal: Actor) -> BorrowerOut:
        """Anonymise: the personal data goes, the pseudonymous code and statistics stay."""
        return msgspec.convert(await privacy.erase(borrower_id, principal.actor), BorrowerOut)


class ProgrammeController(Controller):
    path = "/api/v1/programmes"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def list_programmes(self, include_archived: Archived = False) -> list[ProgrammeOut]:
        """Programmes open to new loans; `include_archived=true` lists the archived ones too."""
        query = Programme.select().order_by(Programme.name)
        if not include_archived:
            query = query.where(Programme.archived_at.is_null())
        return [ProgrammeOut.from_row(row) for row in await query.output(load_json=True)]

    @post("/", opt={"roles": MANAGERS}, responses=errors(422))
    async def create_programme(self, data: JSONBody[ProgrammeIn], principal: Actor) -> ProgrammeOut:
        """The page's rules and event: loans.programmes is the one way in."""
        return ProgrammeOut.from_row(await programme_service.create(data, principal.actor))

    @post(
        "/{programme_id:int}/archive",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def archive(
        self, programme_id: FromPath[int], data: JSONBody[ArchiveIn], principal: Actor
    ) -> ProgrammeOut:
        """Retire a programme (never deleted): its loans, sessions and reports keep it."""
        row = await archive_service.archive_programme(programme_id, principal.actor, data.reason)
        return ProgrammeOut.from_row(row)


class LoanController(Controller):
    path = "/api/v1/loans"
    tags = ["loans"]

    @get("/", opt={"roles": LENDING}, responses=errors())
    async def list_loans(
        self,
        loan_status: Annotated[Literal["open", "closed"] | None, QueryParameter(name="status")] = (
            None
        ),
        borrower: Annotated[int | None, QueryParameter()] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> LoanPage:
        rows, total = await queries.list_loans(
            status=loan_status, borrower_id=borrower, limit=limit, offset=offset
        )
        return msgspec.convert(
            {"items": rows, "total": total, "limit": limit, "offset": offset}, LoanPage
        )

    @post("/", opt={"roles": LENDING}, responses=errors(404, 409, 422))
    async def checkout(self, data: JSONBody[CheckoutIn], principal: Actor) -> LoanOut:
        """Lend one or many devices under the charter in force, with the signature; 409 when a
        device is not ready or another checkout won it."""
        return LoanOut.from_row(await checkout.at_counter(data, principal.actor))

    @get("/{loan_id:int}", opt={"roles": LENDING}, responses=errors(404))
    async def get_loan(self, loan_id: FromPath[int]) -> LoanOut:
        return LoanOut.from_row(await queries.loan_detail(loan_id))

    @get("/{loan_id:int}/events", opt={"roles": LENDING}, responses=errors(404))
    async def loan_events(self, loan_id: FromPath[int]) -> list[LoanEvent]:
        await queries.loan_detail(loan_id)
        return _convert(await queries.loan_events(loan_id), LoanEvent)

    @get(
        "/{loan_id:int}/charter.pdf",
        opt={"roles": LENDING},
        responses=errors(404),
        media_type="application/pdf",
    )
    async def charter_pdf(self, loan_id: FromPath[int]) -> Response[bytes]:
        """The signed charter, byte for byte as stored under its SHA-256."""
        loan = await queries.loan_detail(loan_id)
        return pdf_response(documents.read(loan["document_sha256"]), f"charte-pret-{loan_id}.pdf")

    @post("/links", opt={"roles": LENDING}, responses=errors(404, 409, 422))
    async def signing_link(self, data: JSONBody[LinkIn], principal: Actor) -> LinkOut:
        """A one-time, expiring link to sign this loan elsewhere; the token is shown once."""
        if data.signature is not None:
            raise FieldInvalid("signature", "La signature se donne par le lien, pas ici.")
        token, expires_at = await signing.create_link(data, principal.actor, data.hours)
        return LinkOut(url=f"{base_url()}/sign/{token}", expires_at=expires_at)

    @post("/returns", opt={"roles": LENDING}, status_code=200, responses=errors(404, 409, 422))
    async def check_in(self, data: JSONBody[ReturnIn], principal: Actor) -> LoanOut:
        """A device handed back: end of loan, repair (optional swap), loss or theft."""
        return LoanOut.from_row(await return_service.take_back(data, principal.actor))

    @get("/{loan_id:int}/money", opt={"roles": LENDING}, responses=errors(404))
    async def loan_money(self, loan_id: FromPath[int]) -> LoanMoneyOut:
        """The membership in force at checkout and the loan's deposit, with their statuses."""
        return await deposits.loan_money(loan_id)

    @post(
        "/{loan_id:int}/deposit",
        opt={"roles": LENDING},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def settle_deposit(
        self, loan_id: FromPath[int], data: JSONBody[DepositSettleIn], principal: Actor
    ) -> DepositOut:
        """Refund or keep (with a reason) the loan's deposit; 409 once it is settled."""
        row = await deposits.settle(loan_id, data, principal.actor)
        return msgspec.convert(row, DepositOut)

    @post(
        "/memberships/{membership_id:int}/refund",
        opt={"roles": LENDING},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def refund_membership(
        self, membership_id: FromPath[int], data: JSONBody[MembershipRefundIn], principal: Actor
    ) -> MembershipOut:
        """Refund a paid membership, with its reason; 409 if it is not (or no longer) paid."""
        return await memberships.refund(membership_id, data, principal.actor)

    @post("/cessions", opt={"roles": LENDING}, status_code=200, responses=errors(404, 409, 422))
    async def cede(self, data: JSONBody[CessionIn], principal: Actor) -> CessionOut:
        """Give or sell a wiped device to a member; above a public body's legal cap the sale
        goes through with `warning` set (also kept in the event)."""
        return await cession.cede(data, principal.actor)


class RepairController(Controller):
    path = "/api/v1/repairs"
    tags = ["loans"]

    @get("/", opt={"roles": STAFF}, responses=errors())
    async def list_repairs(
        self, open_only: Annotated[bool, QueryParameter()] = True
    ) -> list[RepairTicketOut]:
        query = RepairTicket.select().order_by(RepairTicket.id)
        if open_only:
            query = query.where(RepairTicket.closed_at.is_null())
        return _convert(await query, RepairTicketOut)

    @post(
        "/{ticket_id:int}/close",
        opt={"roles": STAFF},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def close(
        self, ticket_id: FromPath[int], data: JSONBody[RepairCloseIn], principal: Actor
    ) -> RepairTicketOut:
        """Repaired (back to the borrower without a wipe) or swapped on the same loan."""
        row = await repair_service.close(ticket_id, data, principal.actor)
        return msgspec.convert(row, RepairTicketOut)
