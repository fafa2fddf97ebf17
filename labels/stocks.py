"""Label stocks: page and label geometry in millimetres, and the printer resolution they target.

Sheet figures follow the manufacturers' templates (Avery L7160, L7651); thermal stocks print one
label per page, the page being the label itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inventory.errors import FieldInvalid

A4 = (210.0, 297.0)
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Stock:
    """One kind of label paper; all lengths in millimetres."""

    key: str
    name: str
    page_width: float
    page_height: float
    label_width: float
    label_height: float
    columns: int = 1
    rows: int = 1
    left: float = 0.0
    top: float = 0.0
    pitch_x: float = 0.0
    pitch_y: float = 0.0
    # The resolution barcode modules are aligned to: thermal heads are 203 dpi at worst,
    # office printers 300 dpi at worst.
    dpi: int = 300
    # Blank margin kept inside each label: unprintable edge of thermal heads, or the drift of
    # an office printer against die-cut sheets.
    padding_x: float = 1.0
    padding_y: float = 1.0
    thermal: bool = False

    @property
    def per_page(self) -> int:
        """Labels on one page."""
        return self.columns * self.rows

    @property
    def dot(self) -> float:
        """One printer dot in millimetres."""
        return MM_PER_INCH / self.dpi

    @property
    def content_width(self) -> float:
        """Printable width inside the label's padding."""
        return self.label_width - 2 * self.padding_x

    @property
    def content_height(self) -> float:
        """Printable height inside the label's padding."""
        return self.label_height - 2 * self.padding_y

    def slot_origin(self, slot: int) -> tuple[float, float]:
        """Top-left corner of the label in `slot` (0-based, row by row) on its page."""
        row, column = divmod(slot, self.columns)
        return (self.left + column * self.pitch_x, self.top + row * self.pitch_y)


STOCKS: dict[str, Stock] = {
    "brother62": Stock(
        key="brother62",
        name="Brother QL, étiquettes 62 × 29 mm (DK-11209)",
        page_width=62.0,
        page_height=29.0,
        label_width=62.0,
        label_height=29.0,
        dpi=203,
        # Brother prints 58.9 mm of the 62 mm tape and keeps ~3 mm at each die-cut end.
        padding_x=2.0,
        padding_y=3.0,
        thermal=True,
    ),
    "dymo99012": Stock(
        key="dymo99012",
        name="Dymo LabelWriter, étiquettes 89 × 36 mm (99012)",
        page_width=89.0,
        page_height=36.0,
        label_width=89.0,
        label_height=36.0,
        dpi=203,
        padding_x=3.0,
        padding_y=2.5,
        thermal=True,
    ),
    "l7160": Stock(
        key="l7160",
        name="Planche A4 Avery L7160, 21 étiquettes 63,5 × 38,1 mm",
        page_width=A4[0],
        page_height=A4[1],
        label_width=63.5,
        label_height=38.1,
        columns=3,
        rows=7,
        left=7.25,
        top=15.15,
        pitch_x=66.0,
        pitch_y=38.1,
        padding_x=1.5,
        padding_y=1.5,
    ),
    "l7651": Stock(
        key="l7651",
        name="Planche A4 Avery L7651, 65 étiquettes 38,1 × 21,2 mm",
        page_width=A4[0],
        page_height=A4[1],
        label_width=38.1,
        label_height=21.2,
        columns=5,
        rows=13,
        left=4.75,
        top=10.7,
        pitch_x=40.6,
        pitch_y=21.2,
        padding_x=1.0,
        padding_y=1.0,
    ),
}

_CUSTOM = re.compile(r"^custom:(\d+(?:[.,]\d+)?)x(\d+(?:[.,]\d+)?)$")
CUSTOM_MIN = (30.0, 15.0)
CUSTOM_MAX = (210.0, 297.0)


def custom_stock(width: float, height: float, *, dpi: int = 203) -> Stock:
    """A roll of one-up labels of any size, as thermal printers take; one label per page."""
    if not (CUSTOM_MIN[0] <= width <= CUSTOM_MAX[0] and CUSTOM_MIN[1] <= height <= CUSTOM_MAX[1]):
        raise FieldInvalid(
            "stock",
            f"Taille d'étiquette hors limites : de {CUSTOM_MIN[0]:g} × {CUSTOM_MIN[1]:g} mm "
            f"à {CUSTOM_MAX[0]:g} × {CUSTOM_MAX[1]:g} mm.",
        )
    return Stock(
        key=f"custom:{width:g}x{height:g}",
        name=f"Étiquette sur mesure {width:g} × {height:g} mm",
        page_width=width,
        page_height=height,
        label_width=width,
        label_height=height,
        dpi=dpi,
        padding_x=2.0,
        padding_y=2.0,
        thermal=True,
    )


def get_stock(key: str) -> Stock:
    """The stock a user named: one of STOCKS, or `custom:LARGEURxHAUTEUR` in millimetres."""
    text = key.strip().lower()
    if text in STOCKS:
        return STOCKS[text]
    if match := _CUSTOM.match(text):
        width, height = (float(g.replace(",", ".")) for g in match.groups())
        return custom_stock(width, height)
    raise FieldInvalid(
        "stock",
        f"Support d'étiquettes inconnu : « {key.strip()[:40]} ». Choisissez "
        + ", ".join(STOCKS)
        + " ou custom:LARGEURxHAUTEUR (en mm, par exemple custom:57x32).",
    )
