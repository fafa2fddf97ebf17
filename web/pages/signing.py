"""The one-time signing link: public page (the token is the credential), canvas, submit."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from inventory.errors import DomainError
from inventory.tags import TagError
from loans import charter, checkout, signing
from web.api.loans import decode_image

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


async def _context(token: str, error: str | None = None, form: dict | None = None) -> dict:
    try:
        _, prepared = await signing.open_link(token)
    except (DomainError, TagError) as refusal:
        return {"closed": str(refusal), "error": None}
    return {
        "closed": None,
        "token": token,
        "prepared": prepared,
        "charter_html": charter.to_html(prepared.charter["text"]),
        "signer_roles": checkout.SIGNER_ROLES,
        "form": form or {},
        "error": error,
    }


@get("/sign/{token:str}", opt={"public": True}, include_in_schema=False)
async def signing_page(token: str) -> Template:
    context = await _context(token[:100])
    return Template("sign.html", context=context, status_code=410 if context["closed"] else 200)


@post("/sign/{token:str}", opt={"public": True}, include_in_schema=False, status_code=200)
async def signing_submit(token: str, data: Form) -> Template:
    """Sign through the link; the link is spent only when the loan is made."""
    form = {k: v for k, v in data.items() if isinstance(v, str) and k != "signature_data"}
    name = str(data.get("signer_name", ""))[:200]
    role = str(data.get("signer_role", ""))[:30]
    drawn = str(data.get("signature_data", ""))[:9_000_000]
    try:
        image = decode_image(drawn) if drawn else b""
        loan = await signing.sign(token[:100], image, name, role)
    except (DomainError, TagError) as refusal:
        context = await _context(token[:100], str(refusal), form)
        return Template("sign.html", context=context, status_code=422)
    return Template("signed.html", context={"loan": loan})
