"""Barcodes: Code128 of the asset tag (python-barcode) as vector SVG, QR of its URL (segno).

SVG comes out as one filled `<path>` in module units, scaled by the SVG box: no raster, no
strokes whose width a renderer could round. On labels the QR is a one-pixel-per-module image
drawn without interpolation (as sharp as vector once modules are whole printer dots), because
weasyprint parses SVG paths in Python and 500 vector QR codes would take seconds.
"""

from __future__ import annotations

from functools import lru_cache

import barcode
import segno

CODE128_QUIET = 10  # modules each side (ISO/IEC 15417)
QR_BORDER = 4  # modules each side (ISO/IEC 18004)
QR_ERROR = "m"
# Scoring the eight mask patterns takes segno ~3 ms a symbol, most of a 500-label batch's
# budget; any mask is valid and decodes, so labels use one fixed pattern.
QR_MASK = 0


@lru_cache(maxsize=4096)
def code128_pattern(value: str) -> str:
    """The bars of `value` as '1' (dark) and '0' (light) modules, as python-barcode encodes it."""
    return barcode.get("code128", value).build()[0]


def code128_width(value: str) -> int:
    """Modules across the symbol, quiet zones included."""
    return len(code128_pattern(value)) + 2 * CODE128_QUIET


def _runs(row: str | bytes | bytearray, dark: str | int) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row."""
    runs = []
    start = None
    for i, module in enumerate(row):
        if module == dark and start is None:
            start = i
        elif module != dark and start is not None:
            runs.append((start, i - start))
            start = None
    if start is not None:
        runs.append((start, len(row) - start))
    return runs


def code128_path(value: str) -> str:
    """SVG path data of the bars of `value` in module units (x) and symbol heights (y)."""
    return "".join(
        f"M{CODE128_QUIET + x} 0h{n}v1h-{n}z" for x, n in _runs(code128_pattern(value), "1")
    )


def code128_svg(value: str, width_mm: float, height_mm: float) -> str:
    """Inline SVG of the Code128 of `value`, quiet zones included, exactly `width_mm` wide."""
    total = code128_width(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.4f}mm" '
        f'height="{height_mm:.4f}mm" viewBox="0 0 {total} 1" preserveAspectRatio="none">'
        f'<path fill="#000" d="{code128_path(value)}"/></svg>'
    )


@lru_cache(maxsize=4096)
def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error=QR_ERROR, micro=False, boost_error=False, mask=QR_MASK)


def qr_width(url: str) -> int:
    """Modules across the QR symbol of `url`, quiet zone included."""
    return int(_qr(url).symbol_size(border=QR_BORDER)[0])


def qr_svg(url: str, size_mm: float) -> str:
    """Inline SVG of the QR code of `url`, quiet zone included, `size_mm` square."""
    qr = _qr(url)
    total = qr.symbol_size(border=QR_BORDER)[0]
    parts = []
    for y, row in enumerate(qr.matrix):
        for x, n in _runs(row, 1):
            parts.append(f"M{x + QR_BORDER} {y + QR_BORDER}h{n}v1h-{n}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm:.4f}mm" '
        f'height="{size_mm:.4f}mm" viewBox="0 0 {total} {total}">'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )


def qr_png_uri(url: str) -> str:
    """`data:` URI of a PNG of the QR code of `url`, one pixel per module, quiet zone included."""
    return _qr(url).png_data_uri(scale=1, border=QR_BORDER)
