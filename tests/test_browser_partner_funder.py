"""The partner's day and the funder's day in real Chromium against the real server.

Data are made with the services before the steps; the steps only use pages, as people do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loans import borrowers
from tests.browser import ARTIFACTS, PASSWORD, login, requests_leaving
from tests.partner_world import link_ids, two_organisations
from tests.support import run
from web.accounts import create_user
from web.tables import StaffRole

pytestmark = pytest.mark.db

SIZES = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    world = run(two_organisations())
    world["other_programme"] = run(
        borrowers.create_programme("Fondation Numérique", "Fondation Numérique")
    )
    run(create_user("coordinatrice", PASSWORD, "coordinator"))
    run(create_user("mediatrice", PASSWORD, "mediator"))
    partner = run(create_user("ecole-jean-moulin", PASSWORD, "partner"))
    run(
        StaffRole.update({StaffRole.organisation: world["school"]["id"]}).where(
            StaffRole.user == partner
        )
    )
    world["funder_id"] = run(create_user("departement-rhone", PASSWORD, "funder"))
    world["links"] = run(link_ids())
    return world


@pytest.fixture
def open_page(server: str, browser: Any) -> Iterator[Any]:
    contexts: list[tuple[Any, list[str]]] = []

    def opener(username: str, width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
        contexts.append((context, requests_leaving(context, server)))
        page = context.new_page()
        login(page, server, username)
        return page

    yield opener
    for context, outside in contexts:
        context.close()
        assert not outside, f"requests left the workshop's server: {outside[:5]}"


def no_overflow(page: Any) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def shoot(page: Any, server: str, path: str, name: str) -> None:
    """Screenshots at both widths; the page must not scroll sideways at either."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.goto(f"{server}{path}")
        assert no_overflow(page), f"{path} overflows at {size} px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(SIZES["1280"])


def links_answer_200(page: Any, server: str) -> None:
    """Every link of the menu and of the dashboard opens (no 403, no 404)."""
    page.goto(f"{server}/")
    hrefs = page.eval_on_selector_all(
        "header nav a, main a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert hrefs
    for href in dict.fromkeys(hrefs):
        answer = page.goto(f"{server}{href}")
        assert answer is not None and answer.status == 200, f"{href}: {answer and answer.status}"


def draw_signature(page: Any) -> None:
    page.locator("#signature-pad").scroll_into_view_if_needed()
    box = page.locator("#signature-pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + box["height"] * 0.8)
    page.mouse.down()
    for step in range(1, 30):
        page.mouse.move(
            x + 20 + step * box["width"] / 35,
            y + box["height"] * (0.8 - 0.6 * ((step % 6) / 6)),
            steps=2,
        )
    page.mouse.up()


def test_the_partners_day(world: dict, server: str, open_page: Any) -> None:
    page = open_page("ecole-jean-moulin")
    main = page.locator("main")
    assert "École Jean Moulin" in main.inner_text()
    assert page.locator("#pending-count").inner_text() == "1"
    menu = page.locator("header nav").inner_text()
    assert "Mon organisation" in menu and "Scanner" not in menu and "Appareils" not in menu
    shoot(page, server, "/", "dashboard-partner")

    page.click("header nav a[href='/partner']")
    text = page.locator("main").inner_text()
    assert world["pupil"]["code"] in text and world["tags"][1] in text
    assert "Réalisée" in text and "Prévue" in text
    for hidden in (
        world["centre_borrower"]["code"],
        world["tags"][0],
        world["tags"][4],
        "Léa Martinez",
        "06 98 76 54 32",
        "Centre social des Pentes",
    ):
        assert hidden not in page.content()
    shoot(page, server, "/partner", "partner")

    # Sign the class-set loan prepared for the school.
    mine = world["links"][world["school_borrower"]["id"]]
    page.click(f"#sign-{mine}")
    assert world["tags"][2] in page.locator("main").inner_text()
    shoot(page, server, f"/partner/sign/{mine}", "partner-sign")
    page.fill("#signer_name", "Claire Dubois")
    draw_signature(page)
    with page.expect_navigation():
        page.locator("form#checkout button[type=submit]").click()
    assert "/partner?signed=" in page.url
    assert "est signé" in page.locator("#signed").inner_text()
    loans_text = page.locator("#loans").inner_text()
    assert world["tags"][2] in loans_text and world["tags"][3] in loans_text
    assert "Aucun prêt n'attend votre signature." in page.locator("#pending").inner_text()

    # Nothing of the other organisation is reachable.
    theirs = world["links"][world["centre_borrower"]["id"]]
    assert page.goto(f"{server}/partner/sign/{theirs}").status == 404
    assert page.goto(f"{server}/loans/{world['centre_loan']['id']}").status == 403
    links_answer_200(page, server)


def test_the_funders_day(world: dict, server: str, open_page: Any) -> None:
    programme, other = world["programme"], world["other_programme"]
    coordinator = open_page("coordinatrice")
    coordinator.click("header nav a[href='/accounts']")
    shoot(coordinator, server, "/accounts", "accounts")
    coordinator.click("#accounts a:text('departement-rhone')")
    coordinator.select_option("#programme_id", str(programme["id"]))
    with coordinator.expect_navigation():
        coordinator.locator("form#programme-form button[type=submit]").click()
    assert programme["name"] in coordinator.locator("#funder-programmes").inner_text()
    shoot(coordinator, server, f"/accounts/{world['funder_id']}", "account-funder")
    coordinator.goto(f"{server}/accounts")
    assert programme["name"] in coordinator.locator("#accounts").inner_text()
    shoot(coordinator, server, "/", "dashboard-coordinator")
    links_answer_200(coordinator, server)

    funder = open_page("departement-rhone")
    menu = funder.locator("header nav").inner_text()
    assert "Rapports" in menu and "Scanner" not in menu and "Appareils" not in menu
    shoot(funder, server, "/", "dashboard-funder")
    funder.click(f"main a[href='/reports/funder?programme={programme['id']}']")
    assert funder.url.endswith(f"/reports/funder?programme={programme['id']}")
    assert programme["name"] in funder.locator("main").inner_text()
    funder.goto(f"{server}/reports")
    options = funder.eval_on_selector_all("#programme option", "os => os.map(o => o.value)")
    assert options == [str(programme["id"])]
    refused = funder.goto(f"{server}/reports/funder?programme={other['id']}")
    assert refused.status == 403
    links_answer_200(funder, server)

    # Unlinked on the accounts page, the programme's report closes to the funder.
    coordinator.goto(f"{server}/accounts/{world['funder_id']}")
    with coordinator.expect_navigation():
        coordinator.locator(f"form#remove-{programme['id']} button[type=submit]").click()
    assert "Aucun programme rattaché." in coordinator.locator("#funder-programmes").inner_text()
    assert funder.goto(f"{server}/reports/funder?programme={programme['id']}").status == 403
    funder.goto(f"{server}/")
    assert "rattache depuis la page Comptes" in funder.locator("main").inner_text()


def test_the_mediators_dashboard(world: dict, server: str, open_page: Any) -> None:
    page = open_page("mediatrice")
    assert page.locator("#agenda-summary").is_visible()
    shoot(page, server, "/", "dashboard-mediator")
    links_answer_200(page, server)
