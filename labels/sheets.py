"""A batch of labels as one PDF: labels placed slot by slot from a chosen start position."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventory.errors import FieldInvalid, Invalid
from labels import barcode
from labels.layout import Box, LabelItem, LabelPlan, TextLine, plan_label
from labels.pdf import render_pdf, render_pdf_async
from labels.stocks import Stock

MAX_LABELS = 2000


@dataclass(frozen=True)
class PlacedLabel:
    """A planned label and the page coordinates of its top-left corner, in millimetres."""

    page: int
    x: float
    y: float
    plan: LabelPlan


def check_start(stock: Stock, start: int) -> None:
    """Refuse a start position the sheet does not have, with the sheet's size in the message."""
    if not 1 <= start <= stock.per_page:
        if stock.per_page == 1:
            raise FieldInvalid(
                "start", "Ce support imprime une étiquette par page : la position de départ est 1."
            )
        raise FieldInvalid(
            "start",
            f"Position de départ entre 1 et {stock.per_page} sur une planche {stock.key} "
            f"({stock.columns} colonnes × {stock.rows} lignes, comptées ligne par ligne).",
        )


def slots(stock: Stock, count: int, start: int = 1) -> list[tuple[int, float, float]]:
    """(page, x, y) of `count` labels, filling slots row by row from `start` (1-based)."""
    check_start(stock, start)
    placed = []
    for index in range(start - 1, start - 1 + count):
        page, slot = divmod(index, stock.per_page)
        x, y = stock.slot_origin(slot)
        placed.append((page, x, y))
    return placed


def place(items: Sequence[LabelItem], stock: Stock, start: int = 1) -> list[list[PlacedLabel]]:
    """Plan every label and group them by page."""
    if not items:
        raise Invalid("Aucune étiquette à imprimer.")
    if len(items) > MAX_LABELS:
        raise Invalid(f"Au plus {MAX_LABELS} étiquettes par document.")
    pages: list[list[PlacedLabel]] = []
    for item, (page, x, y) in zip(items, slots(stock, len(items), start), strict=True):
        if page == len(pages):
            pages.append([])
        pages[page].append(PlacedLabel(page, x, y, plan_label(item, stock)))
    return pages


class _Styles:
    """CSS classes for the boxes labels share: thousands of inline styles would each be parsed."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}

    def _name(self, css: str) -> str:
        """The class of these declarations, created on first use."""
        return self.rules.setdefault(css, f"g{len(self.rules)}")

    def box(self, box: Box) -> str:
        """An absolutely positioned box."""
        return self._name(
            f"left: {box.x:.3f}mm; top: {box.y:.3f}mm; "
            f"width: {box.width:.3f}mm; height: {box.height:.3f}mm;"
        )

    def text_block(self, lines: Sequence[TextLine]) -> str:
        """The positioned block holding the lines, which follow each other in normal flow."""
        return self._name(f"left: {lines[0].box.x:.3f}mm; top: {lines[0].box.y:.3f}mm;")

    def line(self, line: TextLine) -> str:
        """One text line: its size and type, its place coming from the flow."""
        return self._name(
            f"width: {line.box.width:.3f}mm; height: {line.box.height:.3f}mm; "
            f"line-height: {line.box.height:.3f}mm; font-size: {line.size_pt}pt; "
            f"text-align: {line.align};"
        )


def _view(pages: list[list[PlacedLabel]], stock: Stock) -> dict[str, Any]:
    """Template context: per label its class names and contents, and the shared rules.

    Weasyprint's cost grows with SVG elements and positioned boxes: the bars and QR codes of a
    whole page go in one SVG laid over it, and a label's text lines flow inside one block.
    """
    styles = _Styles()
    view_pages = []
    for page in pages:
        labels = []
        bars = []
        qrs = []
        for placed in page:
            plan = placed.plan
            slot = Box(placed.x, placed.y, stock.label_width, stock.label_height)
            # Short integers in module units, scaled by a transform: less for weasyprint to parse.
            transform = (
                f"matrix({plan.module_mm:.6f} 0 0 {plan.barcode.height:.4f} "
                f"{placed.x + plan.barcode.x:.4f} {placed.y + plan.barcode.y:.4f})"
            )
            bars.append((transform, barcode.code128_path(plan.tag)))
            if plan.qr:
                qrs.append(
                    (
                        f"{placed.x + plan.qr.x:.4f}",
                        f"{placed.y + plan.qr.y:.4f}",
                        f"{plan.qr.width:.4f}",
                        plan.qr_image,
                    )
                )
            labels.append(
                {
                    "slot": styles.box(slot),
                    "logo": (styles.box(plan.logo), plan.logo_path) if plan.logo else None,
                    "text": styles.text_block(plan.lines) if plan.lines else None,
                    "lines": [(styles.line(line), line.role, line.text) for line in plan.lines],
                }
            )
        view_pages.append({"labels": labels, "bars": bars, "qrs": qrs})
    rules = [(name, css) for css, name in styles.rules.items()]
    return {"pages": view_pages, "rules": rules, "stock": stock}


def _document(
    items: Sequence[LabelItem], stock: Stock, start: int
) -> tuple[dict[str, Any], list[Path]]:
    """The template context of a batch and the folders of the logos it shows."""
    pages = place(items, stock, start)
    logos = {Path(i.config.logo).resolve().parent for i in items if i.config.logo}
    title = f"Étiquettes {items[0].tag}" + (f" à {items[-1].tag}" if len(items) > 1 else "")
    return {**_view(pages, stock), "title": title}, sorted(logos)


def labels_pdf(items: Sequence[LabelItem], stock: Stock, start: int = 1) -> bytes:
    """One PDF for the whole batch; weasyprint starts once, whatever the number of labels."""
    context, assets = _document(items, stock, start)
    return render_pdf("labels.html", context, pdfa=False, assets=assets)


async def labels_pdf_async(items: Sequence[LabelItem], stock: Stock, start: int = 1) -> bytes:
    """`labels_pdf` for async code: laid out in a renderer process, the event loop goes on."""
    context, assets = _document(items, stock, start)
    return await render_pdf_async("labels.html", context, pdfa=False, assets=assets)
