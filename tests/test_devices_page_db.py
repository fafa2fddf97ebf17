"""The device list's filters as the form sends them, the tag search, and the error pages people
see instead of a raw JSON answer or a Python exception."""

from __future__ import annotations

import html
import itertools
from typing import Any

import pytest

from inventory import devices
from inventory.tables import Donation, Site
from tests.browser import PASSWORD
from tests.support import new_donation, ready_devices, run
from web.accounts import create_user
from web.pages.devices import search_text

pytestmark = pytest.mark.db

EXCEPTION_WORDS = ("Traceback", "Error", "Exception", "object has no attribute", '"detail"')


def log_in(client: Any, username: str, role: str) -> None:
    run(create_user(username, PASSWORD, role))
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def listed(html: str) -> set[str]:
    return {tag for tag in TAGS if f'href="/d/{tag}"' in html}


TAGS: list[str] = []


def test_search_reads_tags_as_the_scan_page_does() -> None:
    assert search_text("re000030e") == "RE-000030-E"
    assert search_text(" RE-000030-E ") == "RE-000030-E"
    assert search_text("re000030") == "RE-000030"
    assert search_text("Lenovo") == "Lenovo"


def test_every_combination_of_empty_and_filled_fields_filters(client: Any) -> None:
    ready = run(ready_devices(2))
    received = run(new_donation(2, kind="desktop"))
    TAGS[:] = ready + received
    site = run(Site.select().first())
    donation = run(Donation.select().order_by(Donation.id, ascending=False).first())
    assert site is not None and donation is not None
    log_in(client, "theo", "technician")
    filled = {
        "q": "",
        "state": "received",
        "site": str(site["id"]),
        "donation": str(donation["id"]),
        "kind": "desktop",
        "grade": "?",
    }
    for mask in itertools.product((False, True), repeat=len(filled)):
        params = {k: (v if on else "") for (k, v), on in zip(filled.items(), mask, strict=True)}
        answer = client.get("/devices", params=params)
        assert answer.status_code == 200, (params, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
        shown = listed(answer.text)
        expected = set(received) if (mask[1] or mask[3] or mask[4]) else set(TAGS)
        assert shown == expected, params
    # The search finds a tag typed without its dashes, in lower case.
    tag = ready[0]
    typed = tag.replace("-", "").lower()
    answer = client.get("/devices", params={"q": typed, "state": "", "site": "", "kind": ""})
    assert answer.status_code == 200
    assert listed(answer.text) == {tag}
    assert f'value="{typed}"' in answer.text
    # A serial is still found by its text.
    serial = run(devices.get_device(tag))["serial"]
    assert listed(client.get("/devices", params={"q": serial}).text) == {tag}


def test_a_value_that_cannot_be_read_is_named_in_french(client: Any) -> None:
    log_in(client, "theo", "technician")
    answer = client.get("/devices", params={"state": "volé", "site": "x", "q": "Dell"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "État inconnu" in answer.text and "Site inconnu" in answer.text
    assert 'value="Dell"' in answer.text
    assert not any(word in answer.text for word in EXCEPTION_WORDS)


def test_error_pages_show_a_sentence_never_an_exception(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, "theo", "technician")
    missing = client.get("/pas-de-page-ici")
    assert missing.status_code == 404
    assert "Cette page n'existe pas." in html.unescape(missing.text)
    invalid = client.get("/devices", params={"page": "deux"})
    assert invalid.status_code == 400
    assert "n'a pas pu être lue" in html.unescape(invalid.text)
    forbidden = client.get("/accounts")
    assert forbidden.status_code == 403 and "rôle" in forbidden.text

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'boom'")

    monkeypatch.setattr(devices, "list_devices", broken)
    failed = client.get("/devices")
    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("text/html")
    assert "erreur inattendue" in failed.text
    client.cookies.set("reemploi_lang", "en")
    english = client.get("/nowhere")
    assert english.status_code == 404 and "This page does not exist." in english.text
    for answer in (missing, invalid, forbidden, failed, english):
        assert not any(word in answer.text for word in EXCEPTION_WORDS), answer.text[:500]
        assert 'href="/static/favicon.svg"' in answer.text


def test_filter_button_in_chromium(db: None, server: str, browser: Any) -> None:
    """The form as a person sends it: every select left on « Tous » but one, then a tag typed
    the way a person types it."""
    from tests.browser import ARTIFACTS, login

    ready = run(ready_devices(2))
    received = run(new_donation(1, kind="desktop"))
    run(create_user("theo", PASSWORD, "technician"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    login(page, server, "theo")
    page.goto(f"{server}/devices")
    submit = page.locator("form#device-filters button[type=submit]")
    page.select_option("#f-state", "received")
    with page.expect_navigation():
        submit.click()
    assert page.locator("#device-list a.tag").all_inner_texts() == received
    page.select_option("#f-state", "")
    page.fill("#f-q", ready[1].replace("-", "").lower())
    with page.expect_navigation():
        submit.click()
    assert page.locator("#device-list a.tag").all_inner_texts() == [ready[1]]
    assert page.input_value("#f-q") == ready[1].replace("-", "").lower()
    for width, height in ((390, 844), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{server}/devices")
        wide = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, width
        page.screenshot(path=ARTIFACTS / f"devices-{width}x{height}.png", full_page=True)
    context.close()
