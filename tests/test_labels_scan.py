"""Printed labels scan: each PDF is rasterised at the printer's resolution and read back by an
independent decoder (zxing-cpp), label slot by label slot.

The helpers here are shared by the other label tests.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from inventory.tags import format_tag
from labels.barcode import CODE128_QUIET
from labels.layout import LabelConfig, LabelItem, LabelPlan, plan_label
from labels.sheets import labels_pdf, slots
from labels.stocks import STOCKS, Stock, get_stock
from tests.support import unavailable

BASE_URL = "https://atelier.example.org"
LONGEST_TAG = format_tag("ABCD", 999_999_999)


def require_tool(name: str) -> str:
    """The tool's path; outside CI a missing tool skips the test, under CI it fails it."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is missing (Debian packages poppler-utils and qpdf)")
    return path


def zxing() -> ModuleType:
    """zxing-cpp, imported late so that a missing package is reported like a missing tool."""
    try:
        import zxingcpp
    except ImportError:
        unavailable("zxing-cpp is missing (pip install zxing-cpp)")
    return zxingcpp


def rasterise(pdf: bytes, dpi: int, workdir: Path) -> list[Image.Image]:
    """Every page as an 8-bit grey image, without anti-aliasing: printer heads are bi-level."""
    pdftoppm = require_tool("pdftoppm")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "doc.pdf"
    source.write_bytes(pdf)
    prefix = workdir / "page"
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-gray", "-aa", "no", "-aaVector", "no", source, prefix],
        check=True,
    )
    return [Image.open(path).convert("L") for path in sorted(workdir.glob("page-*.pgm"))]


def px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def label_crop(page: Image.Image, stock: Stock, x: float, y: float) -> Image.Image:
    """The pixels of one label box."""
    dpi = stock.dpi
    return page.crop(
        (px(x, dpi), px(y, dpi), px(x + stock.label_width, dpi), px(y + stock.label_height, dpi))
    )


def decode(image: Image.Image) -> dict[str, list[str]]:
    """Texts of the Code128 and QR symbols found, by format."""
    zxingcpp = zxing()
    found: dict[str, list[str]] = {"code128": [], "qr": []}
    formats = [zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.QRCode]
    for result in zxingcpp.read_barcodes(image, formats=formats):
        key = "qr" if result.format == zxingcpp.BarcodeFormat.QRCode else "code128"
        found[key].append(result.text)
    return found


def make_tags(count: int, seed: int = 6) -> list[str]:
    """Realistic tags of every allowed shape, the longest one included."""
    rng = random.Random(seed)
    tags = [LONGEST_TAG, format_tag("Z", 1), format_tag("RE", 1234567), format_tag("ABC", 42)]
    while len(tags) < count:
        prefix = rng.choice(["RE", "RE", "RE", "AT", "LIL", "X", "ABCD"])
        number = rng.randrange(10 ** rng.choice([6, 6, 6, 7, 9]))
        tag = format_tag(prefix, number)
        if tag not in tags:
            tags.append(tag)
    return tags


def items_for(tags: Sequence[str], config: LabelConfig | None = None) -> list[LabelItem]:
    config = config or LabelConfig(
        org_name="Atelier Réemploi", phone="03 20 00 00 00", base_url=BASE_URL
    )
    return [
        LabelItem(
            tag=tag,
            brand="Lenovo",
            model="ThinkPad T480",
            cpu="Intel Core i5-8250U",
            ram_mb=8192,
            storage="SSD 256 Go",
            config=config,
        )
        for tag in tags
    ]


def assert_quiet_zones(
    page: Image.Image, stock: Stock, x: float, y: float, plan: LabelPlan
) -> None:
    """Ten blank modules on each side of the bars, over their whole height, on the raster."""
    dpi, box = stock.dpi, plan.barcode
    quiet = CODE128_QUIET * plan.module_mm
    top, bottom = px(y + box.y, dpi), px(y + box.y + box.height, dpi)
    start, end = x + box.x, x + box.x + box.width
    # One dot of slack next to the bars, where a renderer may round their edge.
    zones = [
        (px(start, dpi), top, px(start + quiet, dpi) - 1, bottom),
        (px(end - quiet, dpi) + 1, top, px(end, dpi), bottom),
    ]
    for zone in zones:
        assert page.crop(zone).getextrema() == (255, 255), f"quiet zone of {plan.tag} not blank"


def check_batch(
    items: Sequence[LabelItem], stock: Stock, start: int, workdir: Path
) -> tuple[list[LabelPlan], list[Image.Image]]:
    """Render, rasterise, and read every label in its own slot; the plans and the pages."""
    pages = rasterise(labels_pdf(items, stock, start), stock.dpi, workdir)
    positions = slots(stock, len(items), start)
    assert len(pages) == positions[-1][0] + 1
    plans = []
    for item, (page, x, y) in zip(items, positions, strict=True):
        plan = plan_label(item, stock)
        assert_quiet_zones(pages[page], stock, x, y, plan)
        found = decode(label_crop(pages[page], stock, x, y))
        assert found["code128"] == [item.tag], f"{stock.key} slot of {item.tag}: {found}"
        expected_qr = [plan.qr_url] if plan.qr else []
        assert found["qr"] == expected_qr, f"{stock.key} QR of {item.tag}: {found}"
        plans.append(plan)
    return plans, pages


@pytest.mark.parametrize("stock_key", sorted(STOCKS))
def test_fifty_tags_decode_on_every_stock(stock_key: str, tmp_path: Path) -> None:
    stock = STOCKS[stock_key]
    tags = make_tags(50)
    plans, _ = check_batch(items_for(tags), stock, 1, tmp_path)
    assert len(plans) == 50
    # Bars are a whole number of printer dots, two at least.
    for plan in plans:
        dots = plan.module_mm / stock.dot
        assert round(dots) >= 2 and abs(dots - round(dots)) < 1e-6


def test_qr_codes_are_printed_where_there_is_room() -> None:
    """Short tags leave room for a QR on every stock but the mini sheet labels."""
    short = [format_tag("RE", 123), format_tag("RE", 999_999)]
    for key in ("brother62", "dymo99012", "l7160"):
        assert all(plan_label(item, STOCKS[key]).qr for item in items_for(short)), key
    assert not plan_label(items_for(short)[0], STOCKS["l7651"]).qr


def test_partly_used_sheet_starts_at_the_chosen_position(tmp_path: Path) -> None:
    stock = STOCKS["l7160"]
    tags = make_tags(25, seed=11)
    # 20 used slots: the first label lands in the last slot, the rest on a second sheet.
    plans, pages = check_batch(items_for(tags), stock, 21, tmp_path)
    assert len(plans) == 25 and len(pages) == 3
    for slot in range(20):
        blank = label_crop(pages[0], stock, *stock.slot_origin(slot))
        assert blank.getextrema() == (255, 255), f"used slot {slot + 1} must stay blank"


def test_custom_size_decodes(tmp_path: Path) -> None:
    stock = get_stock("custom:57x32")
    check_batch(items_for(make_tags(8, seed=3)), stock, 1, tmp_path)


def test_labels_without_qr_when_the_site_does_not_want_it(tmp_path: Path) -> None:
    config = LabelConfig(org_name="Atelier", show_qr=False, base_url=BASE_URL)
    plans, _ = check_batch(items_for(make_tags(4), config), STOCKS["dymo99012"], 1, tmp_path)
    assert not any(plan.qr for plan in plans)
