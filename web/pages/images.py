"""System images: list, add (from the server's inbox folder), retire.

Adding runs the service `reemploi image add` runs (provisioning.imaging.images.add_image) on a
raw image file already copied into the inbox folder (catalogue.inbox_dir): images weigh gigabytes,
so the page does not upload them.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError, Invalid
from inventory.states import N_
from provisioning.imaging import catalogue, images
from web.accounts import Principal
from web.i18n import gettext as _
from web.pages.wiping import size_words
from web.roles import WORKSHOP

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


class ImageAdd(msgspec.Struct, forbid_unknown_fields=True):
    """An image to add: its name, its version, and the raw file chosen in the inbox."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    file: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "1"


class ImageRetire(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


FIELD_WORDS = {
    "name": N_("nom"),
    "file": N_("fichier"),
    "version": N_("version"),
    "reason": N_("motif"),
}


def _field_of(error: msgspec.ValidationError) -> str:
    text = str(error)
    for field in FIELD_WORDS:
        if f"`$.{field}`" in text:
            return field
    return ""


def _convert(data: dict[str, Any], kind: type) -> Any:
    """The form as the typed command, or Invalid naming the field that is wrong."""
    cleaned = {k: v.strip() for k, v in data.items() if k != "_csrf_token" and isinstance(v, str)}
    cleaned = {k: v for k, v in cleaned.items() if v != "" or k == "reason"}
    try:
        return msgspec.convert(cleaned, kind)
    except msgspec.ValidationError as error:
        field = _field_of(error)
        refusal = Invalid(
            _("Vérifiez le champ « {field} » : il manque ou il est trop long.").format(
                field=_(FIELD_WORDS[field])
            )
            if field
            else _("Le formulaire est incomplet : remplissez le nom et choisissez un fichier.")
        )
        refusal.field = field  # type: ignore[attr-defined]
        raise refusal from None


def _share(row: dict[str, Any]) -> str:
    size = row["size_bytes"] or 0
    return f"{round(100 * (row['mapped_bytes'] or 0) / size)} %" if size else "—"


async def _context(
    error: str | None = None, form: dict[str, Any] | None = None, field: str = ""
) -> dict[str, Any]:
    retired = await catalogue.retired_ids()
    used = await catalogue.deployments_by_image()
    rows = [
        {
            **row,
            "size_text": size_words(row["size_bytes"]),
            "mapped_text": size_words(row["mapped_bytes"]),
            "compressed_text": size_words(row["compressed_bytes"]),
            "share_text": _share(row),
            "used": used.get(row["name"], 0),
            "retired": row["id"] in retired,
        }
        for row in await images.list_images()
    ]
    inbox = [{**f, "size_text": size_words(f["size_bytes"])} for f in await catalogue.inbox_files()]
    return {
        "images": rows,
        "inbox": inbox,
        "inbox_dir": str(catalogue.inbox_dir()),
        "error": error,
        "error_field": field,
        "form": form or {},
    }


@get("/images", opt={"roles": WORKSHOP}, include_in_schema=False)
async def images_page() -> Template:
    return Template("images.html", context=await _context())


@post("/images", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def add_image_from_page(data: Form, principal: Principal) -> Redirect | Template:
    try:
        command = _convert(data, ImageAdd)
        await catalogue.add_from_inbox(
            command.name, command.file, command.version, actor=principal.actor
        )
    except DomainError as error:
        status = 409 if isinstance(error, Conflict) else 422
        field = getattr(error, "field", "") or ("name" if isinstance(error, Conflict) else "")
        return Template(
            "images.html", context=await _context(str(error), data, field), status_code=status
        )
    return Redirect("/images")


@post("/images/{image_id:int}/retire", opt={"roles": WORKSHOP}, include_in_schema=False)
async def retire_image_from_page(
    image_id: int, data: Form, principal: Principal
) -> Redirect | Template:
    try:
        command = _convert(data, ImageRetire)
        await catalogue.retire(image_id, principal.actor, command.reason)
    except DomainError as error:
        status = 409 if isinstance(error, Conflict) else 422
        return Template("images.html", context=await _context(str(error)), status_code=status)
    return Redirect("/images", status_code=303)


ROUTES: list[Any] = [
    images_page,
    add_image_from_page,
    retire_image_from_page,
]
