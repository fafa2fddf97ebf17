"""Real Chromium (Debian's package) driven by Playwright, against the real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support import unavailable

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        unavailable("Debian's chromium is not installed (make test installs it as root)")


def launch() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


PASSWORD = "mot de passe de test"


def requests_leaving(context: Any, server: str) -> list[str]:
    """Collect every request a browser context makes outside the workshop's server."""
    outside: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    return outside


def login(page: Any, server: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


SIZES = {"390x844": (390, 844), "1280x800": (1280, 800)}
PYTHON_TEXT = (
    "Traceback",
    "Error:",
    "Exception",
    "[Errno",
    "<built-in",
    "ValidationError",
    "object has no attribute",
)


def shoot(page: Any, name: str) -> None:
    """Screenshots at phone and desktop widths under test-artifacts/: neither may scroll
    sideways, and no Python text may show."""
    ARTIFACTS.mkdir(exist_ok=True)
    html = page.content()
    shown = [marker for marker in PYTHON_TEXT if marker in html]
    assert not shown, f"{name} shows Python text: {shown}"
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} overflows sideways at {size} by {overflow}px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
