"""What goes on one label and where, in millimetres; pure functions, no I/O.

The barcode comes first: its module is a whole number of printer dots, as wide as the label
allows, and the QR code only takes the room the barcode of this tag leaves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inventory.errors import Invalid
from labels import barcode
from labels.stocks import Stock
from labels.typeface import MM_PER_PT, fit_text, text_width

MAX_MODULE_MM = 0.38  # 15 mil: wider bars only make the symbol longer
PREFERRED_MODULE_MM = 0.25  # 10 mil: the QR never pushes the Code128 below this
QR_MIN_MODULE_MM = 0.25  # what a phone camera resolves at a comfortable distance
QR_MAX_MM = 26.0
GAP_MM = 1.5
BAR_TEXT_GAP_MM = 0.4
MIN_BAR_HEIGHT_MM = 5.0
COMFORT_BAR_HEIGHT_MM = 8.0
LINE = 1.2  # line height, in ems
LOGO_MIN_MM = 4.0
LOGO_MAX_MM = 12.0


@dataclass(frozen=True)
class LabelConfig:
    """What a site's labels show; the association's name and phone default to the site's."""

    show_tag: bool = True
    show_qr: bool = True
    show_specs: bool = True
    show_org: bool = True
    show_phone: bool = True
    org_name: str = ""
    phone: str = ""
    logo: str | None = None  # path of a local SVG or PNG file
    base_url: str = ""


@dataclass(frozen=True)
class LabelItem:
    """One device's label content."""

    tag: str
    brand: str = ""
    model: str = ""
    cpu: str = ""
    ram_mb: int = 0
    storage: str = ""
    config: LabelConfig = field(default_factory=LabelConfig)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box
    size_pt: float
    role: str  # a key of typeface.FONTS
    align: str = "left"


@dataclass(frozen=True)
class LabelPlan:
    """Everything a template needs to draw one label; boxes relative to the label's corner."""

    tag: str
    barcode: Box  # quiet zones included
    module_mm: float
    lines: tuple[TextLine, ...]
    qr: Box | None = None
    qr_image: str | None = None  # data: URI
    qr_url: str | None = None
    logo: Box | None = None
    logo_path: str | None = None


def format_ram(ram_mb: int) -> str:
    """Memory as people write it: "512 Mo", "8 Go", "1,5 Go"; blank when unknown."""
    if ram_mb <= 0:
        return ""
    if ram_mb < 1024:
        return f"{ram_mb} Mo"
    return f"{ram_mb / 1024:.1f}".removesuffix(".0").replace(".", ",") + " Go"


def spec_lines(item: LabelItem, count: int) -> list[str]:
    """Short specs on `count` lines (0, 1 or 2), blanks left out."""
    name = " ".join(part for part in (item.brand.strip(), item.model.strip()) if part)
    ram = format_ram(item.ram_mb)
    if count >= 2:
        details = " · ".join(p for p in (item.cpu.strip(), ram, item.storage.strip()) if p)
        return [line for line in (name, details) if line]
    if count == 1:
        line = " · ".join(p for p in (name, ram) if p)
        return [line] if line else []
    return []


def footer_text(config: LabelConfig) -> str:
    """The association's name and phone, as the site wants them shown."""
    parts = []
    if config.show_org and config.org_name.strip():
        parts.append(config.org_name.strip())
    if config.show_phone and config.phone.strip():
        parts.append(f"Tél. {config.phone.strip()}")
    return " · ".join(parts)


def device_url(base_url: str, tag: str) -> str:
    """What the QR code holds: the device's page, which `/scan` also accepts."""
    return f"{base_url.rstrip('/')}/d/{tag}"


def _sizes(content_height: float) -> tuple[float, float]:
    """Font sizes (tag, small print) in points for a label of this content height."""
    tag = min(11.0, max(7.0, math.floor(content_height * 0.42 * 2) / 2))
    small = min(7.5, max(5.5, math.floor(content_height * 0.3 * 2) / 2))
    return tag, small


def _line_height(size_pt: float) -> float:
    """Line height in millimetres for a font size in points."""
    return size_pt * LINE * MM_PER_PT


def choose_modules(item: LabelItem, stock: Stock) -> tuple[int, tuple[int, str] | None]:
    """Code128 module in dots, and the QR's (module in dots, URL) when there is room for it."""
    dot, width, height = stock.dot, stock.content_width, stock.content_height
    n_bar = barcode.code128_width(item.tag)
    k_cap = max(2, math.floor(MAX_MODULE_MM / dot))
    fitting = [k for k in range(k_cap, 1, -1) if n_bar * k * dot <= width]
    if not fitting:
        raise Invalid(
            f"L'étiquette {stock.label_width:g} × {stock.label_height:g} mm est trop étroite "
            f"pour un code-barres lisible de {item.tag} : choisissez un support plus large."
        )
    best = fitting[0]
    config = item.config
    if not (config.show_qr and config.base_url):
        return best, None
    url = device_url(config.base_url, item.tag)
    n_qr = barcode.qr_width(url)
    qr_floor = max(2, math.ceil(QR_MIN_MODULE_MM / dot - 1e-9))
    bar_floor = min(best, max(2, math.ceil(PREFERRED_MODULE_MM / dot - 1e-9)))
    for k in fitting:
        if k < bar_floor:
            break
        room = min(width - GAP_MM - n_bar * k * dot, height, QR_MAX_MM)
        qr_k = math.floor(room / (n_qr * dot) + 1e-9)
        if qr_k >= qr_floor:
            return k, (qr_k, url)
    return best, None


def plan_label(item: LabelItem, stock: Stock) -> LabelPlan:
    """Place the barcode, the QR, the logo and the text lines of one label inside its padding."""
    config = item.config
    dot = stock.dot
    left, top = stock.padding_x, stock.padding_y
    width, height = stock.content_width, stock.content_height
    k, qr_choice = choose_modules(item, stock)
    module = k * dot
    bar_width = barcode.code128_width(item.tag) * module

    qr_box = qr_image = qr_url = None
    if qr_choice:
        qr_k, qr_url = qr_choice
        side = barcode.qr_width(qr_url) * qr_k * dot
        qr_box = Box(left + width - side, top, side, side)
        qr_image = barcode.qr_png_uri(qr_url)

    tag_pt, small_pt = _sizes(height)
    footer = footer_text(config)
    # Fewer spec lines, then no footer, rather than bars too short to aim at.
    spec_count = 2 if config.show_specs else 0
    while True:
        rows = [_line_height(tag_pt)] if config.show_tag else []
        specs = spec_lines(item, spec_count)
        rows += [_line_height(small_pt)] * (len(specs) + (1 if footer else 0))
        bar_height = height - sum(rows) - (BAR_TEXT_GAP_MM if rows else 0)
        if bar_height >= COMFORT_BAR_HEIGHT_MM or (spec_count == 0 and not footer):
            break
        if spec_count:
            spec_count -= 1
        else:
            footer = ""
    if bar_height < MIN_BAR_HEIGHT_MM:
        raise Invalid(
            f"L'étiquette {stock.label_width:g} × {stock.label_height:g} mm est trop basse "
            "pour un code-barres lisible : choisissez un support plus haut."
        )

    text_top = top + bar_height + BAR_TEXT_GAP_MM
    bottom = top + height
    obstacles = [qr_box] if qr_box else []
    logo_box = None
    if config.logo:
        free_top = max(text_top, qr_box.y + qr_box.height + GAP_MM) if qr_box else text_top
        size = min(bottom - free_top, LOGO_MAX_MM)
        if size >= LOGO_MIN_MM:
            logo_box = Box(left + width - size, bottom - size, size, size)
            obstacles.append(logo_box)

    def room(y: float, line_height: float) -> float:
        """Width left of whatever (QR, logo) shares the line's height."""
        right = left + width
        for box in obstacles:
            if y < box.y + box.height and box.y < y + line_height:
                right = min(right, box.x - GAP_MM)
        return right - left

    lines: list[TextLine] = []
    y = text_top
    if config.show_tag:
        line_height = _line_height(tag_pt)
        tag_width = min(bar_width, room(y, line_height))
        size = tag_pt
        # The tag is what people type when a scanner fails: shrink it, never cut it.
        while size > 5.0 and text_width(item.tag, "mono", size) > tag_width:
            size -= 0.5
        lines.append(
            TextLine(item.tag, Box(left, y, tag_width, line_height), size, "mono", "center")
        )
        y += line_height
    for text in [*specs, footer] if footer else specs:
        line_height = _line_height(small_pt)
        line_width = room(y, line_height)
        shown = fit_text(text, "sans", small_pt, line_width)
        lines.append(TextLine(shown, Box(left, y, line_width, line_height), small_pt, "sans"))
        y += line_height

    return LabelPlan(
        tag=item.tag,
        barcode=Box(left, top, bar_width, bar_height),
        module_mm=module,
        lines=tuple(lines),
        qr=qr_box,
        qr_image=qr_image,
        qr_url=qr_url,
        logo=logo_box,
        logo_path=config.logo if logo_box else None,
    )
