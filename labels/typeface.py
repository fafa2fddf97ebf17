"""The bundled fonts: their files, their @font-face rules, and text measurement in millimetres.

Labels are laid out in Python, so text widths come from the same TTF files weasyprint embeds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

FONT_DIR = Path(__file__).parent / "fonts"
MM_PER_PT = 25.4 / 72
ELLIPSIS = "…"
# Advance widths ignore kerning, which in DejaVu only ever tightens; this margin covers
# rounding in the renderer.
SAFETY = 1.03

# role -> (CSS family, weight, file)
FONTS: dict[str, tuple[str, str, str]] = {
    "sans": ("Reemploi Sans", "normal", "DejaVuSans.ttf"),
    "bold": ("Reemploi Sans", "bold", "DejaVuSans-Bold.ttf"),
    "mono": ("Reemploi Mono", "normal", "DejaVuSansMono.ttf"),
}


def font_face_css() -> str:
    """@font-face rules pointing at the bundled files by file URL, so nothing is fetched."""
    rules = []
    for family, weight, filename in FONTS.values():
        url = (FONT_DIR / filename).resolve().as_uri()
        rules.append(
            f'@font-face {{ font-family: "{family}"; font-weight: {weight}; '
            f'src: url("{url}") format("truetype"); }}'
        )
    return "\n".join(rules)


@cache
def _metrics(role: str) -> tuple[dict[int, int], int, int]:
    """Advance width per code point, the fallback width, and units per em."""
    font = TTFont(FONT_DIR / FONTS[role][2], lazy=True)
    hmtx = font["hmtx"].metrics
    cmap = font.getBestCmap() or {}
    widths = {cp: hmtx[glyph][0] for cp, glyph in cmap.items()}
    units: int = font["head"].unitsPerEm  # pyright: ignore[reportAttributeAccessIssue]
    return widths, hmtx[".notdef"][0], units


def text_width(text: str, role: str, size_pt: float) -> float:
    """Width of `text` set in `role` at `size_pt`, in millimetres, with a small safety margin."""
    widths, fallback, units = _metrics(role)
    advance = sum(widths.get(ord(char), fallback) for char in text)
    return advance / units * size_pt * MM_PER_PT * SAFETY


def fit_text(text: str, role: str, size_pt: float, width_mm: float) -> str:
    """`text` if it fits in `width_mm`, else its longest prefix that fits followed by '…'."""
    text = " ".join(text.split())
    if text_width(text, role, size_pt) <= width_mm:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix whose shortened form fits
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip(" ·,-") + ELLIPSIS, role, size_pt) <= width_mm:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip(" ·,-") + ELLIPSIS if low else ""
