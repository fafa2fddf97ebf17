"""Label printing pages: the form, the batch PDF, one device's label and its handout sheet."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.response import Template

from inventory.errors import Invalid
from inventory.tags import parse_tag
from labels import service
from labels.stocks import STOCKS
from web.roles import STAFF, WORKSHOP
from web.settings import base_url

DEFAULT_STOCK = "l7160"


def _pdf(content: bytes, filename: str) -> Response[bytes]:
    """A PDF shown in the browser, ready to print, never cached."""
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
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


@get("/labels", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_form(
    request: Request,
    donation: str | None = None,
    tags: str | None = None,
    stock: str | None = None,
    start: str | None = None,
) -> Template:
    """The print form; `?donation=ID` pre-fills it right after a donation is registered."""
    return Template(
        "labels.html",
        context={
            "stocks": [(key, s.name, s.per_page) for key, s in STOCKS.items()],
            "donation": (donation or "").strip()[:12],
            "tags": (tags or "").strip()[:4000],
            "stock": stock if stock in STOCKS else DEFAULT_STOCK,
            "start": (start or "1").strip()[:4],
            "principal": request.user,
        },
    )


@get("/labels.pdf", opt={"roles": WORKSHOP}, include_in_schema=False)
async def labels_document(
    donation: str | None = None,
    tags: str | None = None,
    stock: str = DEFAULT_STOCK,
    start: str | None = None,
) -> Response[bytes]:
    """The labels of a donation, or of the tags typed or scanned, as one PDF."""
    number = _int(donation, "Numéro de don")
    codes = service.parse_tag_list(tags or "")
    position = _int(start, "Position de départ", 1) or 1
    pdf = await service.labels_pdf(
        base_url=base_url(), stock=stock, donation=number, tags=codes, start=position
    )
    name = f"etiquettes-don-{number}.pdf" if number is not None else "etiquettes.pdf"
    return _pdf(pdf, name)


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
