"""Label printing pages: the form, the batch PDF, one device's label and its handout sheet.

What was typed becomes the print command (`labels.service.LabelRequest`) through
`web.forms.form_to`, as `reemploi label` builds it from its options: both refuse the same values
with the same sentence, and the form shows it beside the field to correct.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from inventory.errors import DomainError, FieldInvalid, NotFound
from inventory.tags import TagError, parse_tag
from labels import service
from labels.service import DEFAULT_STOCK, LabelRequest
from labels.stocks import STOCKS
from web.forms import form_to
from web.roles import STAFF, WORKSHOP
from web.settings import base_url


def _pdf(content: bytes, filename: str, disposition: str = "inline") -> Response[bytes]:
    """A PDF shown in the browser (or downloaded), ready to print, never cached."""
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _form_context(
    request: Request,
    typed: dict[str, str | None],
    error: str | None = None,
    field: str = "",
) -> dict[str, Any]:
    stock = typed.get("stock")
    return {
        "stocks": [(key, s.name, s.per_page) for key, s in STOCKS.items()],
        "donation": (typed.get("donation") or "").strip()[:12],
        "tags": (typed.get("tags") or "").strip()[:4000],
        "stock": stock if stock in STOCKS else DEFAULT_STOCK,
        "start": (typed.get("start") or "1").strip()[:4],
        "principal": request.user,
        "error": error,
        "error_field": field,
    }


@get("/labels", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_form(
    request: Request,
    donation: FromQuery[str | None] = None,
    tags: FromQuery[str | None] = None,
    stock: FromQuery[str | None] = None,
    start: FromQuery[str | None] = None,
) -> Template:
    """The print form; `?donation=ID` pre-fills it right after a donation is registered."""
    typed = {"donation": donation, "tags": tags, "stock": stock, "start": start}
    return Template("labels.html", context=_form_context(request, typed))


@get("/labels.pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_document(
    request: Request,
    donation: FromQuery[str | None] = None,
    tags: FromQuery[str | None] = None,
    stock: FromQuery[str | None] = None,
    start: FromQuery[str | None] = None,
) -> Response[bytes] | Template:
    """The labels of a donation, or of the tags typed or scanned, as one PDF to download.

    A refusal comes back on the form itself, in the same tab, with what was typed and the
    field to correct (422, or 404 for a donation or tag that does not exist).
    """
    typed = {"donation": donation, "tags": tags, "stock": stock, "start": start}
    try:
        command = form_to(LabelRequest, typed)
        pdf = await service.print_labels(command, base_url())
    except (DomainError, TagError) as error:
        if isinstance(error, FieldInvalid):
            field = error.field
        else:
            field = "donation" if (donation or "").strip() else "tags"
        status = 404 if isinstance(error, NotFound) else 422
        context = _form_context(request, typed, str(error), field)
        return Template("labels.html", context=context, status_code=status)
    number = command.donation
    name = f"etiquettes-don-{number}.pdf" if number else "etiquettes.pdf"
    return _pdf(pdf, name, "attachment")


@get("/d/{tag:str}/label.pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def device_label(
    tag: FromPath[str],
    stock: FromQuery[str] = "brother62",
    start: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Reprint one device's label."""
    code = str(parse_tag(tag))
    command = form_to(LabelRequest, {"tags": code, "stock": stock, "start": start})
    pdf = await service.print_labels(command, base_url())
    return _pdf(pdf, f"etiquette-{code}.pdf")


# Mediators hand devices over at checkout: the sheet is theirs too.
@get("/d/{tag:str}/handout.pdf", opt={"roles": STAFF}, include_in_schema=False)
async def device_handout(tag: FromPath[str]) -> Response[bytes]:
    """The handout sheet (fiche de remise) given to the borrower with the device."""
    code = str(parse_tag(tag))
    pdf = await service.handout_pdf(code)
    return _pdf(pdf, f"fiche-de-remise-{code}.pdf")
