"""The images on offer: the server's inbox of raw images to add, retirement, use by deployments.

An image is never deleted: deployments and device histories name it. Retiring one writes an
`image_retired` event (the audit trail is where the decision is kept, with who and when); a
retired image is listed for history and is no longer offered for a deployment.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from inventory import devices
from inventory.config import settings
from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from inventory.tables import Event
from provisioning.imaging import images
from provisioning.imaging.tables import DeploymentJob, Image

RETIRED = "image_retired"


class ImageAdd(msgspec.Struct, forbid_unknown_fields=True):
    """An image to add: its name, its version, and the raw file (chosen in the inbox on the page,
    any path on the command line)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    file: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "1"
    bmap: Annotated[str, msgspec.Meta(max_length=255)] = ""
    field_labels: ClassVar[dict[str, str]] = {
        "name": "Nom",
        "file": "Fichier",
        "version": "Version",
        "bmap": "Carte bmap",
    }


class ImageExport(msgspec.Struct, forbid_unknown_fields=True):
    """Write an image for bmaptool: NAME.img.zst and NAME.bmap into a folder."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    folder: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    field_labels: ClassVar[dict[str, str]] = {"name": "Nom", "folder": "Dossier"}


class ImageRetire(msgspec.Struct, forbid_unknown_fields=True):
    """Stop offering an image, saying why."""

    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""
    field_labels: ClassVar[dict[str, str]] = {"reason": "Motif"}


def inbox_dir() -> Path:
    """Where raw images are dropped to be added (`REEMPLOI_IMAGES_INBOX`, default
    `<data>/images-inbox`): large files are copied there (scp, USB), not uploaded by the page."""
    path = settings().images_inbox
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _inbox_listing() -> list[dict[str, Any]]:
    found = []
    for entry in sorted(inbox_dir().iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        found.append({"name": entry.name, "size_bytes": entry.stat().st_size})
    return found


async def inbox_files() -> list[dict[str, Any]]:
    """The raw image files waiting in the inbox: name and size."""
    return await asyncio.to_thread(_inbox_listing)


async def inbox_path(file_name: str) -> Path:
    """The inbox file of that name; anything else (a path, a missing file) is refused."""
    names = {f["name"] for f in await inbox_files()}
    if file_name not in names:
        raise Invalid(
            f"Le fichier « {file_name[:80]} » n'est pas dans le dossier d'arrivée des images."
        )
    return inbox_dir() / file_name


async def add_from_inbox(command: ImageAdd, actor: str) -> dict[str, Any]:
    """`reemploi image add NAME --from FILE`, with FILE chosen in the inbox."""
    name, file_name, version = command.name, command.file, command.version
    raw = await inbox_path(file_name)
    described = await inbox_path(command.bmap) if command.bmap else None
    if not version or len(version) > 40:
        raise Invalid("La version compte 1 à 40 caractères.")
    try:
        return await images.add_image(name, raw, version=version, actor=actor, bmap_file=described)
    except OSError:
        raise Invalid(
            f"Le fichier « {file_name} » n'a pas pu être lu ou compressé (place disque, droits)."
        ) from None
    except ValueError:
        raise Invalid(
            f"Le fichier « {file_name} » n'est pas une image disque brute lisible."
        ) from None


async def export(command: ImageExport) -> tuple[Path, Path]:
    """`reemploi image export NAME DIR`: the image and its bmap, for `bmaptool copy`."""
    image = await images.get_image(command.name)
    folder = Path(command.folder)
    if not await asyncio.to_thread(folder.is_dir):
        raise Invalid(f"Le dossier {command.folder} n'existe pas.")
    try:
        return await asyncio.to_thread(images.export, image, folder)
    except ValueError as error:  # the stored data disagrees with its map
        raise Invalid(str(error)) from None
    except OSError as error:
        raise Invalid(
            f"L'export de {command.name} dans {command.folder} a échoué ({error.strerror})."
        ) from None


async def image_bmap(image_id: int) -> tuple[str, bytes]:
    """(NAME.bmap, its text): the image's map in bmaptool's format, for download."""
    image = await Image.select().where(Image.id == image_id).first()
    if image is None:
        raise NotFound("Cette image n'existe pas.")
    try:
        text = await asyncio.to_thread(images.bmap_text, image)
    except (OSError, ValueError):
        raise Invalid(f"La carte de l'image {image['name']} est illisible.") from None
    return f"{image['name']}.bmap", text


async def retired_ids() -> set[int]:
    rows = await Event.select(Event.payload).where(Event.kind == RETIRED).output(load_json=True)
    return {int(r["payload"]["image_id"]) for r in rows if r["payload"].get("image_id")}


async def is_retired(image: dict[str, Any]) -> bool:
    return image["id"] in await retired_ids()


async def retire(image_id: int, actor: str, command: ImageRetire | None = None) -> dict[str, Any]:
    """Stop offering an image; it stays listed, and the event says who retired it, when, why."""
    reason = (command or ImageRetire()).reason
    async with write_transaction(Image):
        image = await Image.select().where(Image.id == image_id).first()
        if image is None:
            raise Invalid("Cette image n'existe pas.")
        if image_id in await retired_ids():
            raise Conflict(f"L'image {image['name']} est déjà retirée.")
        payload = {
            "image_id": image_id,
            "image": image["name"],
            "version": image["version"],
            "map_sha256": image["map_sha256"],
            "reason": reason[:200],
        }
        await devices.write_event(None, actor, RETIRED, None, None, payload)
    return image


async def deployments_by_image() -> dict[str, int]:
    """How many deployments named each image."""
    counts: dict[str, int] = {}
    for row in await DeploymentJob.select(DeploymentJob.image):
        counts[row["image"]] = counts.get(row["image"], 0) + 1
    return counts


async def offered() -> list[dict[str, Any]]:
    """The images a deployment may use: every image not retired."""
    retired = await retired_ids()
    return [i for i in await images.list_images() if i["id"] not in retired]
