"""Nothing spills out of a label: with the longest values allowed, ink and words stay inside each
label's printable box on the rasterised page, and over-long values end with a visible '…'."""

from __future__ import annotations

import re
import subprocess
from html import unescape
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from labels.layout import Box, LabelConfig, LabelItem, plan_label
from labels.sheets import labels_pdf, slots
from labels.stocks import STOCKS, Stock, get_stock
from tests.test_labels_scan import LONGEST_TAG, check_batch, px, require_tool

MM_PER_PT = 25.4 / 72
# Column lengths of inventory.tables: Device.brand 80, model 120, cpu 120, storage 200;
# Site.name 120, phone 40. Wide capitals are the worst case for width.
LONG_CONFIG = LabelConfig(
    org_name="Association WWW " + "M" * 104,
    phone="+33 (0)3 20 00 00 00 poste 12345678901",
    base_url="https://atelier-de-reemploi-solidaire.example.org",
)
LONG_ITEM = LabelItem(
    tag=LONGEST_TAG,
    brand="W" * 80,
    model="ThinkPad X1 Carbon Gen 11 " + "W" * 94,
    cpu="Intel(R) Core(TM) i7-1365U vPro " + "M" * 88,
    ram_mb=1_048_576,
    storage="NVMe " + "W" * 195,
    config=LONG_CONFIG,
)
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)
TOLERANCE_MM = 0.2


def content_box(stock: Stock, x: float, y: float) -> Box:
    return Box(x + stock.padding_x, y + stock.padding_y, stock.content_width, stock.content_height)


def inside(inner: Box, outer: Box, tolerance: float) -> bool:
    return (
        inner.x >= outer.x - tolerance
        and inner.y >= outer.y - tolerance
        and inner.x + inner.width <= outer.x + outer.width + tolerance
        and inner.y + inner.height <= outer.y + outer.height + tolerance
    )


def overlaps(a: Box, b: Box) -> bool:
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )


def words(pdf: bytes, workdir: Path) -> list[list[tuple[Box, str]]]:
    """Every word of every page with its box in millimetres, as poppler extracts them."""
    pdftotext = require_tool("pdftotext")
    source = workdir / "words.pdf"
    source.write_bytes(pdf)
    html = subprocess.run(
        [pdftotext, "-bbox", source, "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        found = []
        for x0, y0, x1, y1, text in WORD.findall(page):
            x0, y0, x1, y1 = (float(v) * MM_PER_PT for v in (x0, y0, x1, y1))
            found.append((Box(x0, y0, x1 - x0, y1 - y0), unescape(text)))
        pages.append(found)
    return pages


def stock_cases() -> list[tuple[str, int, int]]:
    """(stock, count, start): every slot of a sheet, a sheet spilling onto the next, rolls."""
    return [
        ("brother62", 3, 1),
        ("dymo99012", 3, 1),
        ("custom:57x32", 2, 1),
        ("l7160", 21, 1),
        ("l7160", 4, 20),
        ("l7651", 65, 1),
    ]


@pytest.mark.parametrize(("stock_key", "count", "start"), stock_cases())
def test_longest_values_stay_inside_each_label(
    stock_key: str, count: int, start: int, tmp_path: Path
) -> None:
    stock = get_stock(stock_key)
    items = [LONG_ITEM] * count
    plans, pages = check_batch(items, stock, start, tmp_path)
    positions = slots(stock, count, start)

    # Ink: blank out every label's printable box; nothing may remain on the page.
    masks = [Image.new("L", page.size, 0) for page in pages]
    for page_index, x, y in positions:
        box = content_box(stock, x, y)
        one_px = 25.4 / stock.dpi
        ImageDraw.Draw(masks[page_index]).rectangle(
            (
                px(box.x - one_px, stock.dpi),
                px(box.y - one_px, stock.dpi),
                px(box.x + box.width + one_px, stock.dpi),
                px(box.y + box.height + one_px, stock.dpi),
            ),
            fill=255,
        )
    for number, (page, mask) in enumerate(zip(pages, masks, strict=True), start=1):
        stray = ImageChops.lighter(page, mask)  # white wherever a label may print
        assert stray.getextrema()[0] > 127, f"ink outside the labels on page {number}"

    # Words: each inside one label's printable box, clear of its barcode and QR code.
    pdf = labels_pdf(items, stock, start)
    page_words = words(pdf, tmp_path)
    for page_index, found in enumerate(page_words):
        labels = [
            (content_box(stock, x, y), plan, x, y)
            for (p, x, y), plan in zip(positions, plans, strict=True)
            if p == page_index
        ]
        for word_box, text in found:
            owner = [entry for entry in labels if inside(word_box, entry[0], TOLERANCE_MM)]
            assert owner, f"{text!r} spills out of its label on page {page_index + 1}"
            _, plan, x, y = owner[0]
            bars = Box(
                x + plan.barcode.x, y + plan.barcode.y, plan.barcode.width, plan.barcode.height
            )
            assert not overlaps(word_box, bars), f"{text!r} over the barcode"
            if plan.qr:
                qr = Box(x + plan.qr.x, y + plan.qr.y, plan.qr.width, plan.qr.height)
                assert not overlaps(word_box, qr), f"{text!r} over the QR code"

    # Shortened visibly, the tag never: every label shows its whole tag and an ellipsis.
    for page_index, found in enumerate(page_words):
        texts = [text for _, text in found]
        on_page = sum(1 for p, _, _ in positions if p == page_index)
        assert texts.count(LONGEST_TAG) == on_page
        assert sum(text.endswith("…") for text in texts) >= on_page


def test_every_shortened_line_ends_with_an_ellipsis() -> None:
    for stock in STOCKS.values():
        plan = plan_label(LONG_ITEM, stock)
        tag_line, *others = plan.lines
        assert tag_line.text == LONGEST_TAG
        assert others and all(line.text.endswith("…") for line in others), stock.key
