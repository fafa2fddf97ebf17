"""System images: list, add (from the server's inbox folder, with its bmap if any), retire,
download an image's bmap.

Adding runs the service `reemploi image add` runs (provisioning.imaging.images.add_image) on a
raw image file already copied into the inbox folder (catalogue.inbox_dir): images weigh gigabytes,
so the page does not upload them.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError, FieldInvalid
from provisioning.imaging import catalogue, images
from provisioning.imaging.catalogue import ImageAdd, ImageRetire
from web.accounts import Principal
from web.forms import form_to
from web.pages.wiping import size_words
from web.roles import WORKSHOP

Form = URLEncodedBody[dict[str, Any]]
Caller = NamedDependency[Principal]


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
        "inbox": [f for f in inbox if not f["name"].endswith(".bmap")],
        "bmaps": [f for f in inbox if f["name"].endswith(".bmap")],
        "inbox_dir": str(catalogue.inbox_dir()),
        "error": error,
        "error_field": field,
        "form": form or {},
    }


@get("/images", opt={"roles": WORKSHOP}, include_in_schema=False)
async def images_page() -> Template:
    return Template("images.html", context=await _context())


@post("/images", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def add_image_from_page(data: Form, principal: Caller) -> Redirect | Template:
    try:
        await catalogue.add_from_inbox(form_to(ImageAdd, data), actor=principal.actor)
    except DomainError as error:
        status = error.status_code
        field = error.field if isinstance(error, FieldInvalid) else ""
        field = field or ("name" if isinstance(error, Conflict) else "")
        return Template(
            "images.html", context=await _context(str(error), data, field), status_code=status
        )
    return Redirect("/images")


@get("/images/{image_id:int}/bmap", opt={"roles": WORKSHOP}, include_in_schema=False)
async def image_bmap_download(image_id: FromPath[int]) -> Response[bytes]:
    """The image's block map as a bmap 2.0 file, for bmaptool."""
    file_name, text = await catalogue.image_bmap(image_id)
    return Response(
        text,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


@post("/images/{image_id:int}/retire", opt={"roles": WORKSHOP}, include_in_schema=False)
async def retire_image_from_page(
    image_id: FromPath[int], data: Form, principal: Caller
) -> Redirect | Template:
    try:
        await catalogue.retire(image_id, principal.actor, form_to(ImageRetire, data))
    except DomainError as error:
        return Template(
            "images.html", context=await _context(str(error)), status_code=error.status_code
        )
    return Redirect("/images", status_code=303)


ROUTES: list[Any] = [
    images_page,
    add_image_from_page,
    retire_image_from_page,
    image_bmap_download,
]
