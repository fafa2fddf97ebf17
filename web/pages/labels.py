"""Label printing pages: the form, the batch PDF, one device's label and its handout sheet."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from inventory.errors import DomainError, Invalid, NotFound
from inventory.tags import TagError, parse_tag
from labels import service
from labels.stocks import STOCKS
from web.roles import STAFF, WORKSHOP
from web.settings import base_url

DEFAULT_STOCK = "l7160"


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


def _int(value: str | None, what: str, default: int | None = None) -> int | None:
    """A whole number typed in a form field, or a sentence saying what is wrong."""
    text = (value or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise Invalid(f"{what} : un nombre entier est attendu, pas « {text[:20]} ».") from None


def _form_context(
    request: Request,
    donation: str | None,
    tags: str | None,
    stock: str | None,
    start: str | None,
    error: str | None = None,
    field: str = "",
) -> dict[str, Any]:
    return {
        "stocks": [(key, s.name, s.per_page) for key, s in STOCKS.items()],
        "donation": (donation or "").strip()[:12],
        "tags": (tags or "").strip()[:4000],
        "stock": stock if stock in STOCKS else DEFAULT_STOCK,
        "start": (start or "1").strip()[:4],
        "principal": request.user,
        "error": error,
        "error_field": field,
    }


@get("/labels", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_form(
    request: Request,
    donation: str | None = None,
    tags: str | None = None,
    stock: str | None = None,
    start: str | None = None,
) -> Template:
    """The print form; `?donation=ID` pre-fills it right after a donation is registered."""
    return Template("labels.html", context=_form_context(request, donation, tags, stock, start))


@get("/labels.pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_document(
    request: Request,
    donation: str | None = None,
    tags: str | None = None,
    stock: str = DEFAULT_STOCK,
    start: str | None = None,
) -> Response[bytes] | Template:
    """The labels of a donation, or of the tags typed or scanned, as one PDF to download.

    A refusal comes back on the form itself, in the same tab, with what was typed and the
    field to correct (422, or 404 for a donation or tag that does not exist).
    """
    field = "donation"
    try:
        number = _int(donation, "Numéro de don")
        field = "tags"
        codes = service.parse_tag_list(tags or "")
        field = "start"
        position = _int(start, "Position de départ", 1) or 1
        field = "donation" if number is not None else "tags"
        pdf = await service.labels_pdf(
            base_url=base_url(), stock=stock, donation=number, tags=codes, start=position
        )
    except (DomainError, TagError) as error:
        message = str(error)
        if message.startswith("Support"):
            field = "stock"
        elif "position de départ" in message.lower():
            field = "start"
        status = 404 if isinstance(error, NotFound) else 422
        context = _form_context(request, donation, tags, stock, start, message, field)
        return Template("labels.html", context=context, status_code=status)
    name = f"etiquettes-don-{number}.pdf" if number is not None else "etiquettes.pdf"
    return _pdf(pdf, name, "attachment")


@get("/d/{tag:str}/label.pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def device_label(
    tag: str, stock: str = "brother62", start: str | None = None
) -> Response[bytes]:
    """Reprint one device's label."""
    code = str(parse_tag(tag))
    position = _int(start, "Position de départ", 1) or 1
    pdf = await service.labels_pdf(base_url=base_url(), stock=stock, tags=[code], start=position)
    return _pdf(pdf, f"etiquette-{code}.pdf")


# Mediators hand devices over at checkout: the sheet is theirs too.
@get("/d/{tag:str}/handout.pdf", opt={"roles": STAFF}, include_in_schema=False)
async def device_handout(tag: str) -> Response[bytes]:
    """The handout sheet (fiche de remise) given to the borrower with the device."""
    code = str(parse_tag(tag))
    pdf = await service.handout_pdf(code)
    return _pdf(pdf, f"fiche-de-remise-{code}.pdf")
