"""A coordinator describes a site for the national map in real Chromium, then downloads the
places export from the reports page; the file validates against the official schema."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory import sites
from tests.browser import PASSWORD, login, requests_leaving, shoot
from tests.server import free_port
from tests.support import run
from tests.test_lieux_export_db import errors_of
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def site_server() -> Iterator[str]:
    """The application over real HTTP (uvicorn), with these routes whether or not web/app.py
    lists them yet (`reemploi serve` serves only what it lists)."""
    import uvicorn

    import web.app
    from web.api import reports as api
    from web.pages import sites as site_pages

    mine = (api.lieux_api, api.communes_api, *site_pages.ROUTES)
    missing = [h for h in mine if h not in web.app.ROUTE_HANDLERS]
    web.app.ROUTE_HANDLERS.extend(missing)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(web.app.create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for handler in missing:
            web.app.ROUTE_HANDLERS.remove(handler)


def test_a_coordinator_puts_a_site_on_the_national_map(
    db: None, site_server: str, browser: Any, tmp_path: Path
) -> None:
    server = site_server
    run(create_user("coordinatrice", PASSWORD, "coordinator"))
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="fr-FR", accept_downloads=True
    )
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "coordinatrice")
    page.goto(f"{server}/sites")
    page.click("#new-site")
    page.wait_for_url(f"{server}/sites/new")
    page.fill("#name", "Atelier de la Guillotière")
    page.fill("#address", "12 bis rue de Marseille")
    page.fill("#postal_code", "69007")
    page.fill("#commune", "Lyon")
    page.fill("#phone", "04 78 00 11 22")
    page.fill("#emails", "contact@reemploi.example.org")
    page.fill("#opening_hours", "du mardi au vendredi, 14 h - 18 h")
    page.check(
        "input[name=services][value='Acquisition de matériel informatique à prix solidaire']"
    )
    page.check("input[name=fees][value='Gratuit sous condition']")
    page.check("input[name=access_modes][value='Se présenter']")
    with page.expect_navigation():
        page.click("#save")
    error = page.locator("#error").inner_text()
    assert error.startswith("Horaires : « du mardi au vendredi, 14 h - 18 h » ne suit pas")
    assert page.locator("#opening_hours").get_attribute("aria-invalid") == "true"
    # What was typed stays: only the wrong field is typed again.
    assert page.input_value("#name") == "Atelier de la Guillotière"
    assert page.is_checked("input[name=fees][value='Gratuit sous condition']")
    shoot(page, "site-refused")
    page.fill("#opening_hours", "Tu-Fr 14:00-18:00; PH off")
    page.fill("#insee_code", "69387")
    with page.expect_navigation():
        page.click("#save")
    page.wait_for_url(f"{server}/sites")
    assert "exporté" in page.locator("#sites").inner_text()
    (site,) = run(sites.list_sites())
    assert site.phone == "04 78 00 11 22" and site.opening_hours == "Tu-Fr 14:00-18:00; PH off"
    page.goto(f"{server}/reports")
    with page.expect_download() as caught:
        page.click("#lieux-csv")
    saved = tmp_path / "lieux.csv"
    caught.value.save_as(saved)
    assert errors_of("lieux.csv", saved.read_bytes(), tmp_path) == []
    assert "Atelier de la Guillotière" in saved.read_text(encoding="utf-8")
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"
