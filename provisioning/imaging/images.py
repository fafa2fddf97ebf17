"""Images: `add` builds the zstd stream of a raw image's mapped ranges and its block map;
`export` writes an image and its bmap for bmaptool."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import zstandard

from inventory.clock import now
from inventory.config import data_dir
from inventory.errors import Conflict, Invalid, NotFound
from provisioning.imaging import bmap
from provisioning.imaging.blockmap import BlockMap, scan
from provisioning.imaging.tables import Image

WINDOW_LOG = 27
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class ImageOut(msgspec.Struct):
    """An image as the API lists it."""

    name: str
    version: str
    size_bytes: int
    mapped_bytes: int
    compressed_bytes: int
    range_count: int
    map_sha256: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ImageOut:
        return cls(**{f: row[f] for f in cls.__struct_fields__})


def images_dir() -> Path:
    path = data_dir() / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_path(image: dict[str, Any]) -> Path:
    return images_dir() / f"{image['map_sha256']}.zst"


def map_path(image: dict[str, Any]) -> Path:
    return images_dir() / f"{image['map_sha256']}.map.json"


def load_map(image: dict[str, Any]) -> BlockMap:
    block_map = BlockMap.from_json(json.loads(map_path(image).read_bytes()))
    if block_map.sha256 != image["map_sha256"]:
        raise Invalid(f"La carte de blocs de l'image {image['name']} est altérée.")
    return block_map


def build(
    raw: Path, out_dir: Path, level: int = 9, bmap_file: Path | None = None
) -> tuple[BlockMap, int, str]:
    """Compress the mapped ranges of `raw` into one zstd stream; (map, compressed size, sha).

    The ranges are found by scanning the image, or read from a bmap (`bmap_file`), every range
    checked against its checksum; nothing is kept when one differs. Compressed once, sent many
    times: level 9 with long-distance matching over a 128 MiB window (what `zstd -d` accepts
    without `--long`) sends a sixth less than level 3 and decompresses as fast.
    """
    described = bmap.parse(bmap_file.read_bytes()) if bmap_file is not None else None
    tmp = out_dir / f".building-{os.getpid()}-{threading.get_ident()}.zst"
    params = zstandard.ZstdCompressionParameters.from_level(
        level, threads=-1, enable_ldm=True, window_log=WINDOW_LOG
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    try:
        with open(tmp, "wb") as out, compressor.stream_writer(out, closefd=False) as writer:

            def write(_offset: int, data: bytes) -> None:
                writer.write(data)

            if described is None:
                block_map = scan(raw, write)
            else:
                block_map = bmap.read_mapped(described, raw, write)
        digest = hashlib.sha256()
        with open(tmp, "rb") as f:
            while chunk := f.read(4 * 1024 * 1024):
                digest.update(chunk)
        final = out_dir / f"{block_map.sha256}.zst"
        os.replace(tmp, final)
        (out_dir / f"{block_map.sha256}.map.json").write_bytes(block_map.canonical())
        return block_map, final.stat().st_size, digest.hexdigest()
    finally:
        tmp.unlink(missing_ok=True)


def bmap_text(image: dict[str, Any]) -> bytes:
    """The image's block map as a bmap 2.0 file (bmaptool's format), made from the map alone."""
    return bmap.to_xml(bmap.from_block_map(load_map(image)))


def export(image: dict[str, Any], folder: Path, level: int = 3) -> tuple[Path, Path]:
    """Write NAME.img.zst (the whole raw image, holes as zeros) and NAME.bmap into `folder`,
    for `bmaptool copy`; each range's SHA-256 is checked on the way."""
    block_map = load_map(image)
    xml = bmap.to_xml(bmap.from_block_map(block_map))
    name = image["name"]
    data_file, map_file = folder / f"{name}.img.zst", folder / f"{name}.bmap"
    tmp = folder / f".{name}.img.zst.part"
    compressor = zstandard.ZstdCompressor(level=level, threads=-1)

    def ranges_data() -> Iterator[bytes]:
        with open(data_path(image), "rb") as f:
            reader = zstandard.ZstdDecompressor().stream_reader(f, read_size=4 * 1024 * 1024)
            while chunk := reader.read(4 * 1024 * 1024):
                yield chunk

    try:
        with open(tmp, "wb") as out, compressor.stream_writer(out, closefd=False) as writer:
            for chunk in bmap.full_image(block_map, ranges_data()):
                writer.write(chunk)
        os.replace(tmp, data_file)
    finally:
        tmp.unlink(missing_ok=True)
    map_file.write_bytes(xml)
    return data_file, map_file


async def add_image(
    name: str, raw: Path, version: str = "1", actor: str = "", bmap_file: Path | None = None
) -> dict[str, Any]:
    """Add an image from a raw file, or from any image bmaptool reads with its bmap."""
    if not name or len(name) > 80 or not set(name) <= NAME_CHARS:
        raise Invalid("Le nom d'image compte 1 à 80 lettres, chiffres, points, tirets.")
    if not await asyncio.to_thread(raw.is_file):
        raise Invalid(f"Image brute introuvable : {raw}")
    if await Image.exists().where(Image.name == name):
        raise Conflict(f"Une image s'appelle déjà {name}.")
    if bmap_file is not None and not await asyncio.to_thread(bmap_file.is_file):
        raise Invalid(f"Carte bmap introuvable : {bmap_file}")
    try:
        block_map, compressed, data_sha = await asyncio.to_thread(
            build, raw, images_dir(), bmap_file=bmap_file
        )
    except bmap.BmapError as error:
        raise Invalid(str(error)) from None
    await Image.insert(
        Image(
            name=name,
            version=version,
            size_bytes=block_map.size,
            mapped_bytes=block_map.mapped_bytes,
            compressed_bytes=compressed,
            range_count=len(block_map.ranges),
            map_sha256=block_map.sha256,
            data_sha256=data_sha,
            created_at=now(),
            created_by=actor,
        )
    )
    return await get_image(name)


async def get_image(name: str) -> dict[str, Any]:
    row = await Image.select().where(Image.name == name).first()
    if row is None:
        raise NotFound(f"Aucune image ne s'appelle {name}.")
    return row


async def list_images() -> list[dict[str, Any]]:
    return await Image.select().order_by(Image.name)
