"""bmap 2.0, the XML block map of bmaptool (bmap-tools): read one into ours, write ours as one.

A bmap lists mapped blocks as ranges `first-last` of `BlockSize` bytes, each with the checksum
of exactly those blocks (the last block of the image may be short), and the checksum of the file
itself computed with its own value replaced by zeros. Our map keeps byte ranges with a SHA-256
each; a bmap written from it uses one `Range` per range of ours, so no image data is re-read.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from provisioning.imaging.blockmap import MAX_RANGE, BlockMap, Range

CHECKSUMS = ("sha256", "sha1")
MAX_BLOCK = 32 * 1024 * 1024
_READ = 4 * 1024 * 1024
_HEX = re.compile(r"[0-9a-f]+")


class BmapError(ValueError):
    """A bmap or an image that disagrees with it; the message is a French sentence."""


@dataclass(frozen=True)
class BmapRange:
    first: int
    last: int
    chksum: str


@dataclass(frozen=True)
class Bmap:
    image_size: int
    block_size: int
    checksum_type: str
    ranges: tuple[BmapRange, ...]

    @property
    def blocks_count(self) -> int:
        return -(-self.image_size // self.block_size)

    @property
    def mapped_count(self) -> int:
        return sum(r.last - r.first + 1 for r in self.ranges)

    def span(self, r: BmapRange) -> tuple[int, int]:
        """The bytes [start, end) of a range in the image (the last block may be short)."""
        return r.first * self.block_size, min((r.last + 1) * self.block_size, self.image_size)


def _number(root: ET.Element, tag: str) -> int:
    node = root.find(tag)
    text = (node.text or "").strip() if node is not None else ""
    if not text.isdigit():
        raise BmapError(f"La carte bmap n'indique pas {tag} (nombre attendu).")
    return int(text)


def parse(data: bytes) -> Bmap:
    """Read a bmap file, checking its own checksum and the coherence of its ranges."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise BmapError(f"La carte bmap n'est pas un XML valide ({error}).") from None
    version = root.get("version", "")
    if root.tag != "bmap" or not re.fullmatch(r"2\.\d+", version):
        raise BmapError("Seules les cartes bmap de version 2.x sont acceptées.")
    size, block = _number(root, "ImageSize"), _number(root, "BlockSize")
    if size == 0 or not 0 < block <= MAX_BLOCK:
        raise BmapError("La carte bmap indique une taille d'image ou de bloc impossible.")
    kind_node = root.find("ChecksumType")
    kind = (kind_node.text or "").strip().lower() if kind_node is not None else ""
    if kind not in CHECKSUMS:
        raise BmapError(f"Type d'empreinte bmap non pris en charge : « {kind[:20]} ».")
    width = hashlib.new(kind).digest_size * 2
    _check_file_checksum(root, data, kind, width)
    if _number(root, "BlocksCount") != -(-size // block):
        raise BmapError(
            "La carte bmap est incohérente : nombre de blocs et taille ne concordent pas."
        )
    map_node = root.find("BlockMap")
    if map_node is None:
        raise BmapError("La carte bmap n'a pas d'élément BlockMap.")
    ranges: list[BmapRange] = []
    for node in map_node.findall("Range"):
        ranges.append(_range(node, width, ranges[-1].last if ranges else -1, size, block))
    bmap = Bmap(image_size=size, block_size=block, checksum_type=kind, ranges=tuple(ranges))
    if _number(root, "MappedBlocksCount") != bmap.mapped_count:
        raise BmapError("La carte bmap est incohérente : le nombre de blocs utiles est faux.")
    return bmap


def _check_file_checksum(root: ET.Element, data: bytes, kind: str, width: int) -> None:
    node = root.find("BmapFileChecksum")
    given = (node.text or "").strip() if node is not None else ""
    if len(given) != width or not _HEX.fullmatch(given):
        raise BmapError("La carte bmap n'a pas d'empreinte de fichier (BmapFileChecksum) valide.")
    # As bmaptool does: the first occurrence of the value is replaced by zeros, then hashed.
    zeroed = data.replace(given.encode(), b"0" * width, 1)
    if hashlib.new(kind, zeroed).hexdigest() != given:
        raise BmapError("L'empreinte de la carte bmap ne correspond pas : fichier altéré.")


def _range(node: ET.Element, width: int, previous: int, size: int, block: int) -> BmapRange:
    text = (node.text or "").strip()
    match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", text)
    chksum = node.get("chksum", "")
    if match is None:
        raise BmapError(f"Plage bmap illisible : « {text[:40]} ».")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if first > last or first <= previous or last * block >= size:
        raise BmapError(f"Plage bmap {text[:40]} hors de l'image, inversée ou non ordonnée.")
    if len(chksum) != width or not _HEX.fullmatch(chksum):
        raise BmapError(f"La plage bmap {text[:40]} n'a pas d'empreinte valide.")
    return BmapRange(first, last, chksum)


# -- reading an image as bmaptool does ---------------------------------------------------------


def open_image(path: Path) -> BinaryIO:
    """The decompressed byte stream of a raw, .zst, .gz, .xz or .bz2 image."""
    name = path.name.lower()
    if name.endswith(".zst"):
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            open(path, "rb"), read_size=_READ, read_across_frames=True, closefd=True
        )
        return reader  # type: ignore[return-value]
    if name.endswith((".gz", ".gzip")):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".xz"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class _Stream:
    """Forward-only reading at absolute offsets: holes are read and dropped in compressed files."""

    def __init__(self, source: BinaryIO, seekable: bool):
        self.source, self.seekable, self.pos = source, seekable, 0

    def read_at(self, offset: int, length: int) -> bytes:
        if offset > self.pos and self.seekable:
            self.source.seek(offset)
            self.pos = offset
        while self.pos < offset:
            skipped = self.source.read(min(_READ, offset - self.pos))
            if not skipped:
                raise BmapError("L'image est plus courte que ne l'indique sa carte bmap.")
            self.pos += len(skipped)
        parts, wanted = [], length
        while wanted:
            chunk = self.source.read(wanted)
            if not chunk:
                raise BmapError("L'image est plus courte que ne l'indique sa carte bmap.")
            parts.append(chunk)
            wanted -= len(chunk)
        self.pos += length
        return b"".join(parts)


def read_mapped(
    bmap: Bmap, image: Path, on_range: Callable[[int, bytes], None] | None = None
) -> BlockMap:
    """Our block map of `image` as `bmap` describes it, every bmap checksum verified.

    `on_range(offset, data)` receives each of our ranges' bytes in order (at most MAX_RANGE
    each, cut on the bmap's block boundaries)."""
    step = max(bmap.block_size, MAX_RANGE - MAX_RANGE % bmap.block_size)
    ranges: list[Range] = []
    try:
        source = open_image(image)
    except OSError as error:
        raise BmapError(f"L'image {image.name} ne peut pas être lue ({error.strerror}).") from None
    with source:
        stream = _Stream(source, seekable=not image.name.lower().endswith(_COMPRESSED))
        for r in bmap.ranges:
            start, end = bmap.span(r)
            whole = hashlib.new(bmap.checksum_type)
            for offset in range(start, end, step):
                try:
                    data = stream.read_at(offset, min(step, end - offset))
                except (OSError, EOFError, zstandard.ZstdError, lzma.LZMAError) as error:
                    raise BmapError(
                        f"L'image {image.name} est illisible ou tronquée ({error})."
                    ) from None
                whole.update(data)
                ranges.append(Range(offset, len(data), hashlib.sha256(data).hexdigest()))
                if on_range is not None:
                    on_range(offset, data)
            if whole.hexdigest() != r.chksum:
                raise BmapError(
                    f"Les blocs {r.first}-{r.last} de l'image ne correspondent pas à l'empreinte "
                    "de la carte bmap : image ou carte altérée, rien n'est enregistré."
                )
    return BlockMap(size=bmap.image_size, ranges=tuple(ranges), block_size=bmap.block_size)


_COMPRESSED = (".zst", ".gz", ".gzip", ".xz", ".bz2")


# -- writing ---------------------------------------------------------------------------------


def from_block_map(block_map: BlockMap) -> Bmap:
    """The bmap of our map: one Range per range, its SHA-256 being that of exactly its blocks."""
    block, size = block_map.block_size, block_map.size
    ranges = []
    for r in block_map.ranges:
        end = r.offset + r.length
        if r.offset % block or (end % block and end != size) or r.length <= 0:
            raise BmapError(
                f"La plage {r.offset}+{r.length} n'est pas alignée sur les blocs de {block} octets."
            )
        ranges.append(BmapRange(r.offset // block, (end - 1) // block, r.sha256))
    return Bmap(image_size=size, block_size=block, checksum_type="sha256", ranges=tuple(ranges))


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return ""


def to_xml(bmap: Bmap) -> bytes:
    """The bmap file, laid out as `bmaptool create` writes it, with its own checksum."""
    width = hashlib.new(bmap.checksum_type).digest_size * 2
    mapped = bmap.mapped_count
    percent = 100.0 * mapped / bmap.blocks_count
    lines = [
        '<?xml version="1.0" ?>',
        "<!-- Block map written by Réemploi: the mapped blocks of the image, which are the",
        "     only ones to copy to the target device. -->",
        "",
        '<bmap version="2.0">',
        f"    <!-- Image size in bytes: {_human(bmap.image_size)} -->",
        f"    <ImageSize> {bmap.image_size} </ImageSize>",
        "",
        "    <!-- Size of a block in bytes -->",
        f"    <BlockSize> {bmap.block_size} </BlockSize>",
        "",
        "    <!-- Count of blocks in the image file -->",
        f"    <BlocksCount> {bmap.blocks_count} </BlocksCount>",
        "",
        f"    <!-- Count of mapped blocks: {_human(mapped * bmap.block_size)}"
        f" or {percent:.1f}% -->",
        f"    <MappedBlocksCount> {mapped} </MappedBlocksCount>",
        "",
        "    <!-- Type of checksum used in this file -->",
        f"    <ChecksumType> {bmap.checksum_type} </ChecksumType>",
        "",
        "    <!-- The checksum of this bmap file. When it is calculated, the value of",
        '         the checksum has be zero (all ASCII "0" symbols).  -->',
        f"    <BmapFileChecksum> {'0' * width} </BmapFileChecksum>",
        "",
        "    <!-- The block map: ranges of blocks, each with the checksum of its blocks. -->",
        "    <BlockMap>",
    ]
    for r in bmap.ranges:
        blocks = f"{r.first}-{r.last}" if r.first != r.last else f"{r.first}"
        lines.append(f'        <Range chksum="{r.chksum}"> {blocks} </Range>')
    lines += ["    </BlockMap>", "</bmap>", ""]
    text = "\n".join(lines).encode()
    digest = hashlib.new(bmap.checksum_type, text).hexdigest()
    return text.replace(b"0" * width, digest.encode(), 1)


def full_image(block_map: BlockMap, ranges_data: Iterator[bytes]) -> Iterator[bytes]:
    """The whole raw image, zeros in the holes, from the concatenated bytes of the mapped ranges;
    each range's SHA-256 is checked as it passes."""
    zeros = bytes(_READ)
    pending = bytearray()
    source = iter(ranges_data)
    pos = 0

    def take(length: int) -> bytes:
        while len(pending) < length:
            chunk = next(source, b"")
            if not chunk:
                raise BmapError("Les données de l'image sont plus courtes que sa carte.")
            pending.extend(chunk)
        data = bytes(pending[:length])
        del pending[:length]
        return data

    for r in block_map.ranges:
        while pos < r.offset:
            n = min(_READ, r.offset - pos)
            yield zeros[:n]
            pos += n
        digest = hashlib.sha256()
        for done in range(0, r.length, _READ):
            data = take(min(_READ, r.length - done))
            digest.update(data)
            yield data
        if digest.hexdigest() != r.sha256:
            raise BmapError(f"La plage {r.offset}+{r.length} de l'image stockée est altérée.")
        pos = r.offset + r.length
    while pos < block_map.size:
        n = min(_READ, block_map.size - pos)
        yield zeros[:n]
        pos += n
