"""bmap 2.0 with Debian's bmap-tools: images made by `bmaptool create` import and deploy, ours
are written by `bmaptool copy`; a tampered or malformed bmap is refused and nothing is kept."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sshtargets import Lab, attached, build_test_image, can_run
from tests.support import run
from tests.test_browser_wiping_images import open_page  # noqa: F401
from tests.test_imaging_deploy_db import enrol_all, options, read_range, wiped_devices

pytestmark = pytest.mark.db

_why = can_run() or (None if shutil.which("bmaptool") else "bmaptool (bmap-tools) is missing")
_root = pytest.mark.skipif(
    bool(_why) and os.environ.get("CI") != "true", reason=_why or "CI runs it"
)


def _cli(*args: str):
    from click.testing import CliRunner

    from web.cli import main

    return CliRunner().invoke(main, list(args))


def _stored() -> tuple[int, set[str]]:
    from provisioning.imaging.images import images_dir
    from provisioning.imaging.tables import Image

    return run(Image.count()), {p.name for p in images_dir().iterdir()}


@pytest.fixture
def made_by_bmaptool(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(raw image, its .img.zst, the bmap `bmaptool create` wrote for it)."""
    raw = tmp_path / "debian-bmap.img"
    build_test_image(raw)
    bmap_file = tmp_path / "debian-bmap.bmap"
    subprocess.run(["bmaptool", "create", "-o", str(bmap_file), str(raw)], check=True)
    packed = tmp_path / "debian-bmap.img.zst"
    subprocess.run(["zstd", "-q", "-T0", str(raw), "-o", str(packed)], check=True)
    return raw, packed, bmap_file


def _zstd_writer(path: Path, mode: str):
    import zstandard

    return zstandard.open(path, mode)


def _resign(text: bytes) -> bytes:
    """A bmap whose own checksum is recomputed after an edit (a careful forger)."""
    import re

    given = re.search(rb"<BmapFileChecksum> ([0-9a-f]{64}) <", text)
    assert given is not None
    zeroed = text.replace(given.group(1), b"0" * 64, 1)
    return zeroed.replace(b"0" * 64, hashlib.sha256(zeroed).hexdigest().encode(), 1)


def test_two_extents_in_one_block_make_one_range(tmp_path: Path) -> None:
    from provisioning.imaging.blockmap import BLOCK, scan

    path = tmp_path / "sparse.img"
    with open(path, "wb") as f:
        f.truncate(4 * BLOCK)
        for offset in (4096, 8 * 4096, BLOCK + 4096, 3 * BLOCK + 12 * 4096):
            f.seek(offset)
            f.write(b"x" * 100)
    extents = []
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = 0
        while True:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            pos = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append(start)
    finally:
        os.close(fd)
    assert len(extents) >= 3, "the file system keeps 4 KiB holes (ext4, xfs, tmpfs)"
    block_map = scan(path)
    offsets = [(r.offset, r.length) for r in block_map.ranges]
    assert offsets == [(0, 2 * BLOCK), (3 * BLOCK, BLOCK)], offsets
    data = path.read_bytes()
    for r in block_map.ranges:
        assert hashlib.sha256(data[r.offset : r.offset + r.length]).hexdigest() == r.sha256


def test_bmap_written_from_our_map_round_trips(tmp_path: Path) -> None:
    from provisioning.imaging import bmap
    from provisioning.imaging.blockmap import scan

    raw = tmp_path / "petit.img"
    with open(raw, "wb") as f:
        f.truncate(5 * 2**20 + 1234)  # a short last block
        f.seek(2**20)
        f.write(os.urandom(300_000))
        f.seek(5 * 2**20)
        f.write(os.urandom(1234))
    ours = scan(raw)
    text = bmap.to_xml(bmap.from_block_map(ours))
    parsed = bmap.parse(text)
    assert parsed.image_size == ours.size and parsed.block_size == ours.block_size
    again = bmap.read_mapped(parsed, raw)
    assert again.ranges == ours.ranges
    for suffix, opener in ((".gz", gzip.open), (".xz", lzma.open), (".zst", _zstd_writer)):
        packed = raw.with_name(raw.name + suffix)
        with opener(packed, "wb") as f:
            f.write(raw.read_bytes())
        assert bmap.read_mapped(parsed, packed).ranges == ours.ranges, suffix
    short = raw.with_name("court.img")
    short.write_bytes(raw.read_bytes()[: 5 * 2**20])
    with pytest.raises(bmap.BmapError, match="plus courte"):
        bmap.read_mapped(parsed, short)
    with pytest.raises(bmap.BmapError, match="altéré"):
        bmap.parse(text.replace(b"<ImageSize> ", b"<ImageSize>  ", 1))
    with pytest.raises(bmap.BmapError, match="XML"):
        bmap.parse(text[: len(text) // 2])


def test_tampered_or_malformed_bmap_is_refused_and_nothing_stored(db, made_by_bmaptool) -> None:
    _raw, packed, bmap_file = made_by_bmaptool
    text = bmap_file.read_bytes()
    before = _stored()
    first = text.index(b'chksum="') + len(b'chksum="')
    flipped = b"0" if text[first : first + 1] != b"0" else b"1"
    extra = b'<Range chksum="' + b"a" * 64 + b'"> 11000 </Range>\n    </BlockMap>'
    cases = {
        # A range added, the file checksum left as it was: the file checksum disagrees.
        "altered": text.replace(b"</BlockMap>", extra),
        # A range checksum changed, the file re-signed: the image's blocks disagree.
        "resigned": _resign(text[:first] + flipped + text[first + 1 :]),
        "malformed": text.replace(b"</BlockMap>", b"</BlocMap>"),
    }
    messages = {
        "altered": "L'empreinte de la carte bmap ne correspond pas",
        "resigned": "ne correspondent pas à l'empreinte de la carte bmap",
        "malformed": "n'est pas un XML valide",
    }
    for case, body in cases.items():
        bad = bmap_file.with_name(f"{case}.bmap")
        bad.write_bytes(body)
        result = _cli("image", "add", "--bmap", str(bad), "--name", f"x-{case}", str(packed))
        assert result.exit_code == 2, (case, result.output)
        assert messages[case] in result.output, (case, result.output)
        assert _stored() == before, case
    assert _cli("image", "add", "--help").exit_code == 0
    assert "--bmap" in _cli("image", "add", "--help").output
    assert "bmaptool" in _cli("image", "export", "--help").output


@_root
def test_bmaptool_image_imports_and_deploys(db, made_by_bmaptool) -> None:
    from provisioning.imaging import bmap, images
    from provisioning.imaging.deploy import Target, deploy
    from provisioning.imaging.target_agent import gpt_partitions

    raw, packed, bmap_file = made_by_bmaptool
    added = _cli("image", "add", "--bmap", str(bmap_file), str(packed), "--version", "12")
    assert added.exit_code == 0, added.output
    image = run(images.get_image("debian-bmap"))
    described = bmap.parse(bmap_file.read_bytes())
    block_map = images.load_map(image)
    assert block_map.block_size == described.block_size == 4096
    assert image["mapped_bytes"] == described.mapped_count * 4096
    # The map written back is bmaptool's, range for range.
    assert [(r.first, r.last, r.chksum) for r in bmap.parse(images.bmap_text(image)).ranges] == [
        (r.first, r.last, r.chksum) for r in described.ranges
    ]
    tags = run(wiped_devices(1))
    with Lab(1) as lab:
        run(enrol_all(lab))
        target = lab.targets[0]
        [job] = run(
            deploy("debian-bmap", "famille", [Target(target.host, tags[0], disk=target.disk)],
                   options(lab))
        )  # fmt: skip
        assert job["status"] == "passed", job["reason"]
        verified = [s["detail"] for s in job["steps"] if s["phase"] == "verify"]
        assert verified == [f"{len(block_map.ranges)}/{len(block_map.ranges)}"]
        # Outside the GPT and the personalised root, the disk equals the image on every range.
        esp = {p["number"]: p for p in gpt_partitions(target.disk)}[1]
        lo, hi = esp["first"] * 512, (esp["last"] + 1) * 512
        image_bytes = raw.read_bytes()
        checked = 0
        for r in described.ranges:
            start, end = described.span(r)
            start, end = max(start, lo), min(end, hi)
            if start < end:
                assert read_range(target.disk, start, end - start) == image_bytes[start:end]
                checked += end - start
        assert checked >= 12 * 2**20


@_root
def test_exported_image_written_by_bmaptool_equals_our_deployment(db, tmp_path: Path) -> None:
    from provisioning.imaging import images
    from provisioning.imaging.deploy import Target, deploy
    from provisioning.imaging.target_agent import gpt_partitions

    raw = tmp_path / "ours.img"
    build_test_image(raw)
    run(images.add_image("ours", raw, version="1", actor="test"))
    image = run(images.get_image("ours"))
    block_map = images.load_map(image)
    out = tmp_path / "export"
    out.mkdir()
    exported = _cli("image", "export", "ours", str(out))
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in out.iterdir()) == ["ours.bmap", "ours.img.zst"]
    disk_file = tmp_path / "bmaptool-disk.img"
    with open(disk_file, "wb") as f:
        f.truncate(64 * 2**20)
    tags = run(wiped_devices(1))
    with attached(disk_file) as other, Lab(1) as lab:
        copied = subprocess.run(
            ["bmaptool", "copy", str(out / "ours.img.zst"), other], capture_output=True, text=True
        )
        assert copied.returncode == 0, copied.stderr
        assert "ours.bmap" in copied.stderr  # bmaptool found and used the map beside the image
        # Every range bmaptool wrote has the SHA-256 our deployment writes and verifies.
        for r in block_map.ranges:
            assert hashlib.sha256(read_range(other, r.offset, r.length)).hexdigest() == r.sha256
        run(enrol_all(lab))
        target = lab.targets[0]
        [job] = run(
            deploy("ours", "famille", [Target(target.host, tags[0], disk=target.disk)],
                   options(lab))
        )  # fmt: skip
        assert job["status"] == "passed", job["reason"]
        esp = {p["number"]: p for p in gpt_partitions(target.disk)}[1]
        inside = [
            r
            for r in block_map.ranges
            if r.offset >= esp["first"] * 512 and r.offset + r.length <= (esp["last"] + 1) * 512
        ]
        assert sum(r.length for r in inside) >= 12 * 2**20
        for r in inside:  # byte for byte, both disks (the root was personalised since)
            assert read_range(other, r.offset, r.length) == read_range(
                target.disk, r.offset, r.length
            )
        # Holes are zeros on bmaptool's disk too: the whole image is what it wrote.
        with open(other, "rb") as f:
            assert f.read(len(raw.read_bytes())) == raw.read_bytes()


def test_page_offers_the_bmap_and_the_inbox_takes_one(
    client, tokens: dict[str, str], made_by_bmaptool
) -> None:
    from provisioning.imaging import bmap, catalogue, images
    from provisioning.imaging.catalogue import ImageAdd

    _raw, packed, bmap_file = made_by_bmaptool
    inbox = catalogue.inbox_dir()
    shutil.copy(packed, inbox / packed.name)
    shutil.copy(bmap_file, inbox / bmap_file.name)
    try:
        command = ImageAdd(name="boite", file=packed.name, bmap=bmap_file.name)
        image = run(catalogue.add_from_inbox(command, "test"))
    finally:
        (inbox / packed.name).unlink()
        (inbox / bmap_file.name).unlink()
    headers = {"Authorization": f"Bearer {tokens['technician']}"}
    page = client.get("/images", headers=headers)  # type: ignore[attr-defined]
    assert f'href="/images/{image["id"]}/bmap"' in page.text
    got = client.get(f"/images/{image['id']}/bmap", headers=headers)  # type: ignore[attr-defined]
    assert got.status_code == 200
    assert 'filename="boite.bmap"' in got.headers["content-disposition"]
    assert got.content == images.bmap_text(image)
    assert bmap.parse(got.content).ranges == bmap.parse(bmap_file.read_bytes()).ranges
    missing = client.get("/images/999999/bmap", headers=headers)  # type: ignore[attr-defined]
    assert missing.status_code == 404


def test_page_adds_an_image_with_its_bmap_and_hands_the_bmap_back(
    open_page,  # noqa: F811
    server: str,
    made_by_bmaptool,
) -> None:
    from provisioning.imaging import bmap, catalogue

    _raw, packed, bmap_file = made_by_bmaptool
    inbox = catalogue.inbox_dir()
    tampered = inbox / "altere.bmap"
    tampered.write_bytes(bmap_file.read_bytes().replace(b"<BlockSize> 4096", b"<BlockSize> 4097"))
    for source in (packed, bmap_file):
        shutil.copy(source, inbox / source.name)
    try:
        page = open_page("technicien-bmap", "technician")
        page.goto(f"{server}/images")
        form = page.locator("form#add-image")
        form.locator("#file").select_option(packed.name)
        form.locator("#bmap").select_option("altere.bmap")
        form.locator("#name").fill("debian-bmap")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert "fichier altéré" in page.inner_text("#images-error")
        assert page.locator('#images tr[data-image="debian-bmap"]').count() == 0
        page.locator("form#add-image #bmap").select_option(bmap_file.name)
        page.locator("form#add-image button[type=submit]").click()
        page.wait_for_url(f"{server}/images")
        row = page.locator('#images tr[data-image="debian-bmap"]')
        assert "Proposée" in row.inner_text()
        with page.expect_download() as download:
            row.locator("a", has_text="Carte bmap").click()
        assert download.value.suggested_filename == "debian-bmap.bmap"
        got = Path(download.value.path()).read_bytes()
        assert bmap.parse(got).ranges == bmap.parse(bmap_file.read_bytes()).ranges
    finally:
        for name in (packed.name, bmap_file.name, tampered.name):
            (inbox / name).unlink(missing_ok=True)
