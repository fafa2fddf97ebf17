"""A partner's own organisation: its loans, devices, borrowers' codes and sessions, and the
class-set loans it signs. A partner with no organisation linked is told so; nothing of another
organisation is reachable (the organisation comes from the account, never from the address)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError, NotFound
from inventory.states import N_
from inventory.tags import TagError
from loans import charter, checkout, mediation, partners, signing
from web.account_links import partner_organisation
from web.accounts import Principal
from web.forms import form_to
from web.roles import PARTNERS

Form = MultipartBody[dict[str, Any]]
Actor = NamedDependency[Principal]
LOAN_STATUSES = {"open": N_("En cours"), "closed": N_("Clos")}


@get("/partner", opt={"roles": PARTNERS}, include_in_schema=False)
async def partner_page(
    principal: Actor, signed: Annotated[int | None, QueryParameter()] = None
) -> Template:
    organisation = await partner_organisation(principal)
    if organisation is None:
        return Template("partner.html", context={"organisation": None})
    org_id = organisation["id"]
    return Template(
        "partner.html",
        context={
            "organisation": organisation,
            "loans": await partners.loans_of(org_id),
            "sessions": await partners.sessions_of(org_id),
            "pending": await partners.pending_requests(org_id),
            "session_statuses": mediation.STATUSES,
            "loan_statuses": LOAN_STATUSES,
            "signed": signed,
        },
    )


async def _sign_context(
    organisation_id: int, link_id: int, error: str | None = None, form: dict | None = None
) -> dict[str, Any]:
    try:
        prepared = await partners.open_request(link_id, organisation_id)
    except NotFound:
        raise
    except (DomainError, TagError) as refusal:
        return {"closed": str(refusal), "error": None, "link_id": link_id}
    return {
        "closed": None,
        "link_id": link_id,
        "prepared": prepared,
        "charter_html": charter.to_html(prepared.charter["text"]),
        "signer_roles": {
            "school_representative": checkout.SIGNER_ROLES[
                checkout.SignerRole.school_representative
            ]
        },
        "form": form or {"signer_role": "school_representative"},
        "error": error,
    }


async def _organisation_id(principal: Principal) -> int:
    organisation = await partner_organisation(principal)
    if organisation is None:
        raise NotFound(partners.UNKNOWN_REQUEST)
    return organisation["id"]


@get("/partner/sign/{link_id:int}", opt={"roles": PARTNERS}, include_in_schema=False)
async def partner_sign_page(principal: Actor, link_id: FromPath[int]) -> Template:
    context = await _sign_context(await _organisation_id(principal), link_id)
    return Template(
        "partner_sign.html", context=context, status_code=409 if context["closed"] else 200
    )


@post(
    "/partner/sign/{link_id:int}",
    opt={"roles": PARTNERS},
    include_in_schema=False,
    status_code=303,
)
async def partner_sign_submit(
    principal: Actor, link_id: FromPath[int], data: Form
) -> Redirect | Template:
    """Sign a pending class-set loan of the partner's organisation; a refusal keeps the form."""
    org_id = await _organisation_id(principal)
    form = {k: v for k, v in data.items() if isinstance(v, str) and k != "signature_data"}
    try:
        # The same command as signing through the link: the request was prepared for one.
        command = form_to(signing.LinkSignatureIn, data)
        loan = await partners.sign_request(link_id, org_id, command.signature(), principal.actor)
    except NotFound:
        raise
    except (DomainError, TagError) as refusal:
        context = await _sign_context(org_id, link_id, str(refusal), form)
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("partner_sign.html", context=context, status_code=status)
    return Redirect(f"/partner?signed={loan['id']}", status_code=303)


ROUTES: list[Any] = [partner_page, partner_sign_page, partner_sign_submit]
