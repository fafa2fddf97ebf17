"""Every page each role can reach from its menu and dashboard, opened in real Chromium.

A realistic data set (the demo's, plus a class-set loan of a school, returns, a recorded session,
a partner account linked to the school and a funder account linked to the programme) is built
through the services; then each role logs in, opens the links of its menu and of its dashboard,
and one level of detail links from each of those pages (a device card, a loan, a borrower…), at
390x844 and 1280x800. A page fails on a 4xx/5xx answer, on horizontal overflow, on an internal
identifier left in its visible text, or on a Python exception text. Each page's screenshot is
written under test-artifacts/crawl/<role>-<page>-<width>.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import ARTIFACTS, PASSWORD
from tests.support import run
from web.roles import LENDING, STAFF
from web.vocabulary import LABELS

pytestmark = pytest.mark.db

CRAWL = ARTIFACTS / "crawl"
WIDTHS = ((390, 844), (1280, 800))
# One person per role; no name is a stored identifier.
USERS = {
    "technician": "theo",
    "mediator": "maya",
    "coordinator": "coline",
    "partner": "paul",
    "funder": "fanny",
    "admin": "ines",
}
DETAIL_PAGES_PER_ROLE = 30
DETAIL_PAGES_PER_SHAPE = 1
LINKS_PER_SHAPE = 2
SKIPPED_PREFIXES = ("/static/", "/api/", "/lang/", "/logout", "/schema", "/healthz")
DOWNLOADS = (".pdf", ".json", ".csv", ".png", ".svg", ".zip", ".txt", ".sig", ".img", ".iso")

# Identifiers that are also ordinary French words, or too short to tell apart from text.
FRENCH_WORDS = {
    "association",
    "autonome",
    "autre",
    "bureautique",
    "domicile",
    "export",
    "organisation",
    "purge",
    "retire",
    "signature",
    "triage",
}
IDENTIFIERS = sorted(
    key
    for words in LABELS.values()
    for key in words
    if len(key) >= 3 and key.replace("_", "").isalnum() and key not in FRENCH_WORDS
)
IDENTIFIER = re.compile(
    r"(?<![\w\-/.@])(" + "|".join(re.escape(k) for k in IDENTIFIERS) + r")(?![\w\-/@])"
)
SNAKE_CASE = re.compile(r"(?<![\w\-/.@])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w\-/@])")
# Values a template printed as Python or as stored: None, True, ISO dates and times, cents.
RAW_VALUES = re.compile(
    r"\b(?:None|True|False|Cents?|cents?)\b|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}[:\d.+Z]*)?\b"
)
EXCEPTION = re.compile(
    r"Traceback|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|object has no attribute|NoneType"
    r"|not subscriptable|unexpected keyword argument|Internal Server Error|\bException\b"
)
# Library messages that only a leaked exception puts in a page's visible text.
LEAKED = re.compile(r"invalid literal for|is not a valid \w+|Expected `|msgspec|litestar|piccolo\.")


async def _seed() -> dict[str, Any]:
    """The demo's fleet and loans, then what the demo lacks; returns each role's password and
    the pages with the richest histories (lost, repaired and returned devices, their loans)."""
    from piccolo.apps.user.tables import BaseUser

    from inventory.tables import Device
    from loans import borrowers, checkout, mediation, returns, signing
    from loans.tables import Loan, LoanDevice, MediationSession, Programme
    from tests.support import signature_png
    from web import accounts
    from web.demo import load_demo

    password = await load_demo()
    # The demo's admin is called `admin`, a role's identifier: give it a person's name.
    await BaseUser.update({BaseUser.username: USERS["admin"]}).where(BaseUser.username == "admin")
    school = await borrowers.create_organisation(
        "École élémentaire Jean-Jaurès", "school", "Villeurbanne", "69266", True
    )
    class_set = await borrowers.create_borrower(
        borrowers.BorrowerIn(
            kind="organisation", organisation_id=school["id"], commune="Villeurbanne"
        )
    )
    programme = await Programme.select().first()
    ready = await Device.select(Device.asset_tag).where(
        (Device.state == "ready") & (Device.kind == "laptop")
    )
    tags = [row["asset_tag"] for row in ready]
    await checkout.checkout(
        checkout.CheckoutIn(
            borrower_id=class_set["id"],
            tags=tags[:3],
            programme_id=programme["id"],
            accessories=["chargeur"],
        ),
        checkout.SignatureIn(
            "drawn", signature_png(), "Claire Directrice", "school_representative"
        ),
        "demo",
    )
    # One device of the class set is lost; one household's computer comes back for repair,
    # another's at the end of its loan.
    await returns.check_in(tags[2], returns.ReturnIn(reason="lost"), "demo")
    households = (
        await LoanDevice.select(LoanDevice.device.asset_tag, LoanDevice.loan)
        .where(LoanDevice.loan.borrower.kind == "household")
        .order_by(LoanDevice.id)
    )
    await returns.check_in(
        households[0]["device.asset_tag"],
        returns.ReturnIn(reason="repair", charger=True, damage=True, damage_notes="Écran fissuré"),
        "demo",
    )
    await returns.check_in(
        households[1]["device.asset_tag"], returns.ReturnIn(reason="end", charger=True), "demo"
    )
    planned = (
        await MediationSession.select(MediationSession.id)
        .where(
            (MediationSession.loan == households[-1]["loan"])
            & (MediationSession.status == "planned")
        )
        .first()
    )
    if planned:
        await mediation.record_session(
            planned["id"],
            mediation.SessionRecord(
                status="done",
                held_on=date.today(),
                mediator=USERS["mediator"],
                place_type="lieu_activite",
                duration_minutes=60,
                themes=["prendre_en_main_du_materiel", "email"],
                autonomy="partiellement_autonome",
            ),
            "demo",
        )
        # A correction is a new event; the history shows both.
        await mediation.correct_session(
            planned["id"],
            mediation.SessionRecord(
                status="done",
                held_on=date.today(),
                mediator=USERS["mediator"],
                place_type="domicile",
                commune_insee="69266",
                duration_minutes=45,
                themes=["prendre_en_main_du_materiel"],
                autonomy="entierement_accompagne",
            ),
            "demo",
        )
    household_ids = await Loan.select(Loan.borrower).where(Loan.borrower.kind == "household")
    workshop = await mediation.create_workshop(
        mediation.WorkshopIn(
            planned_on=date.today(),
            mediator=USERS["mediator"],
            label="Atelier e-mail",
            borrower_ids=[row["borrower"] for row in household_ids],
        ),
        "demo",
    )
    for role, name in USERS.items():
        if role == "admin":
            continue
        await accounts.create_user(
            name, PASSWORD, role, organisation_id=school["id"] if role == "partner" else None
        )
    await _link_funder(programme["id"])
    assert await Loan.count() >= 4
    passwords = {role: PASSWORD for role in USERS} | {"admin": password}
    rich = [tags[2], households[0]["device.asset_tag"], households[1]["device.asset_tag"]]
    loans = await LoanDevice.select(LoanDevice.loan).where(LoanDevice.device.asset_tag.is_in(rich))
    pages = [f"/d/{tag}" for tag in rich]
    public = ["/login", "/confidentialite", "/verify/key"]
    still_ready = await Device.select(Device.asset_tag).where(Device.state == "ready").first()
    if still_ready:
        # A one-time signing link, opened by a family on its own phone.
        token, _ = await signing.create_link(
            checkout.CheckoutIn(
                borrower_id=household_ids[0]["borrower"],
                tags=[still_ready["asset_tag"]],
                programme_id=programme["id"],
                accessories=["chargeur"],
            ),
            "demo",
        )
        public.append(f"/sign/{token}")
    sessions = [workshop["id"]] + ([planned["id"]] if planned else [])
    wiped_tag, certificate = await _wipe_records()
    pages.append(f"/d/{wiped_tag}")
    public.append(f"/verify/{certificate}")
    return {
        "passwords": passwords,
        "devices": pages,
        "loans": [f"/loans/{r['loan']}" for r in loans],
        "sessions": [f"/sessions/{session_id}" for session_id in sessions],
        "public": public,
    }


async def _wipe_records() -> tuple[str, str]:
    """A passed wipe with its certificate and a failed one, on a device waiting for erasure."""
    from inventory.tables import Device
    from provisioning import records
    from provisioning.tables import MethodType, Status

    size = 256_060_514_304
    tag = (
        await Device.select(Device.asset_tag)
        .where((Device.state == "to_wipe") & (Device.kind == "laptop"))
        .first()
    )["asset_tag"]
    runner = records.Runner(operator="banc", station="banc-1")
    passed = records.Outcome(
        status=Status.passed,
        method_type=MethodType.clear,
        method="overwrite",
        method_details="Écrasement de chaque secteur adressable : 1 passe de zéros",
        tool="Réemploi effaceur 1.0",
        verification_method="sample",
        verification_result="passed",
        verified_bytes=size // 10 + 1,
        bytes_written=size,
    )
    certificate = ""
    for serial, outcome in (
        ("S3CRAWL0001", passed),
        ("S3CRAWL0002", records.Outcome(status=Status.failed, reason="Disque débranché.")),
    ):
        media = records.Media(
            model="SAMSUNG MZ7LN256", serial=serial, size_bytes=size, transport="sata"
        )
        record = await records.start(
            media, runner, method_type=MethodType.clear, verification_method="sample", tag=tag
        )
        await records.finish(record["id"], outcome, "banc")
        if outcome.status == Status.passed:
            issued, _ = await records.issue_pdf(record["id"], "https://atelier.example", "banc")
            certificate = issued["certificate_id"]
    return tag, certificate


async def _link_funder(programme_id: int) -> None:
    from piccolo.apps.user.tables import BaseUser

    from web.account_links import link_programme
    from web.accounts import Principal
    from web.roles import Role

    coordinator = (
        await BaseUser.select(BaseUser.id).where(BaseUser.username == USERS["coordinator"]).first()
    )
    funder = await BaseUser.select(BaseUser.id).where(BaseUser.username == USERS["funder"]).first()
    actor = Principal(USERS["coordinator"], Role.coordinator, coordinator["id"])
    await link_programme(actor, funder["id"], programme_id)


def _slug(path: str) -> str:
    """A screenshot's name: the path, with one-time tokens and certificate numbers as `token`."""
    parts = urlsplit(path)
    segments = ["token" if len(seg) >= 16 else seg for seg in parts.path.strip("/").split("/")]
    text = ("-".join(s for s in segments if s) or "dashboard") + (
        f"-{parts.query}" if parts.query else ""
    )
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "dashboard"


def _shape(path: str) -> str:
    """Links that open the same kind of page: digits and tags in the path count as one."""
    parts = urlsplit(path)
    segments = ["{}" if any(c.isdigit() for c in s) else s for s in parts.path.split("/")]
    keys = sorted(pair.split("=")[0] for pair in parts.query.split("&") if pair)
    return "/".join(segments) + ("?" + "&".join(keys) if keys else "")


def _local(href: str | None, server: str) -> str | None:
    """A page link of this server as a path, or None (downloads, other sites, actions)."""
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    if href.startswith(server):
        href = href[len(server) :] or "/"
    if not href.startswith("/") or href.startswith("//"):
        return None
    path = href.split("#")[0]
    bare = urlsplit(path).path
    if bare.startswith(SKIPPED_PREFIXES) or bare.lower().endswith(DOWNLOADS):
        return None
    return path


def _links(page: Any, selector: str, server: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    seen: list[str] = []
    for href in hrefs:
        path = _local(href, server)
        if path and path not in seen:
            seen.append(path)
    return seen


def _problems_of(page: Any, role: str, path: str, width: int, status: int | None) -> list[str]:
    where = f"{path} [{role}, {width}px]"
    found = []
    if status is None or status >= 400:
        found.append(f"{where}: answer {status}")
    wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        culprits = page.evaluate(
            """() => { const w = window.innerWidth; const out = [];
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > w + 1 && out.length < 3) {
                out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                  (el.className && typeof el.className === 'string' ?
                   '.' + el.className.trim().split(/\\s+/).join('.') : ''));
              } } return out; }"""
        )
        found.append(f"{where}: overflows ({wide[0]} > {wide[1]} px; {', '.join(culprits)})")
    text = page.inner_text("body")
    identifiers = sorted(
        set(IDENTIFIER.findall(text))
        | set(SNAKE_CASE.findall(text))
        | set(RAW_VALUES.findall(text))
    )
    if identifiers:
        found.append(f"{where}: internal identifiers shown: {', '.join(identifiers[:8])}")
    html = page.content()
    exceptions = sorted(
        {m.group(0) for m in EXCEPTION.finditer(text + html)}
        | {m.group(0) for m in LEAKED.finditer(text)}
    )
    if exceptions:
        found.append(f"{where}: Python exception text: {', '.join(exceptions[:5])}")
    return found


# Boxes of the page that scroll sideways, and whether that is only a wide table or code block
# (allowed: the way to show a wide table on a phone) or other content cut off (a failure).
SIDEWAYS = """() => {
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ?
     '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const found = [];
  for (const box of document.querySelectorAll('main *')) {
    const style = getComputedStyle(box);
    if (!['auto', 'scroll'].includes(style.overflowX) || box.scrollWidth <= box.clientWidth + 1) {
      continue;
    }
    const edge = box.getBoundingClientRect().left + box.clientWidth + 1;
    const cut = [...box.querySelectorAll('*')].filter(el => {
      if (el.closest('table, pre') || getComputedStyle(el).position === 'absolute') {
        return false;
      }
      const r = el.getBoundingClientRect();
      const words = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
      return r.width > 0 && (r.right > edge || words);
    });
    found.push({box: name(box), cut: cut.slice(0, 2).map(name)});
  }
  return found;
}"""


def _visit(
    page: Any, server: str, role: str, path: str, notes: list[str]
) -> tuple[list[str], bool]:
    """Open one page at both widths; (problems, was a page at all). Boxes that scroll sideways
    inside the page are allowed (wide tables) but noted."""
    answer = page.request.get(server + path)
    kind = answer.headers.get("content-type", "")
    if answer.status < 400 and "text/html" not in kind:
        return [], False
    problems = []
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        try:
            response = page.goto(server + path, wait_until="load")
        except Exception as error:  # a download or an aborted navigation: no page to judge
            return [f"{path} [{role}, {width}px]: could not open ({str(error)[:80]})"], False
        status = response.status if response else None
        problems += _problems_of(page, role, path, width, status)
        for box in page.evaluate(SIDEWAYS):
            where = f"{path} [{role}, {width}px]"
            if box["cut"]:
                problems.append(
                    f"{where}: content cut off sideways in {box['box']} ({', '.join(box['cut'])})"
                )
            else:
                notes.append(f"{where}: a wide table or code scrolls sideways in {box['box']}")
        page.screenshot(path=CRAWL / f"{role}-{_slug(path)}-{width}.png", full_page=True)
    return problems, True


def _targets(page: Any, server: str) -> list[str]:
    """Every link of the page to this server, downloads included (they must not answer 4xx)."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = []
    for href in hrefs:
        if href.startswith(server):
            href = href[len(server) :] or "/"
        if href.startswith("/") and not href.startswith(("//", "/lang/", "/logout")):
            found.append(href.split("#")[0])
    return found


def _check_links(
    page: Any, server: str, role: str, origin: str, checked: dict[str, int]
) -> list[str]:
    problems = []
    for link in _targets(page, server):
        shape = _shape(link)
        if link in checked or checked.get("shape:" + shape, 0) >= LINKS_PER_SHAPE:
            continue
        checked["shape:" + shape] = checked.get("shape:" + shape, 0) + 1
        status = page.request.get(server + link, max_redirects=5).status
        checked[link] = status
        if status >= 400:
            problems.append(f"{origin} [{role}]: its link {link} answers {status}")
    return problems


def _crawl(
    browser: Any, server: str, role: str, seeded: dict[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = context.new_page()
    notes: list[str] = []
    try:
        page.goto(f"{server}/login")
        page.fill("#username", USERS[role])
        page.fill("#password", seeded["passwords"][role])
        page.click("form button[type=submit]")
        page.wait_for_url(f"{server}/")
        first = ["/", *_links(page, "header nav a", server), *_links(page, "main a", server)]
        first = list(dict.fromkeys(first))
        problems: list[str] = []
        details: list[str] = []
        shapes: dict[str, int] = {_shape(p): 1 for p in first}
        checked: dict[str, int] = {}
        opened = []
        for path in first:
            found, is_page = _visit(page, server, role, path, notes)
            problems += found
            if not is_page:
                continue
            opened.append(path)
            problems += _check_links(page, server, role, path, checked)
            for link in _links(page, "main a", server):
                shape = _shape(link)
                if (
                    link in first
                    or link in details
                    or shapes.get(shape, 0) >= DETAIL_PAGES_PER_SHAPE
                ):
                    continue
                if len(details) < DETAIL_PAGES_PER_ROLE:
                    shapes[shape] = shapes.get(shape, 0) + 1
                    details.append(link)
        # The richest histories, for the roles that may open them.
        if role in STAFF:
            details += [p for p in seeded["devices"] if p not in details]
        if role in LENDING:
            details += [p for p in seeded["loans"] + seeded["sessions"] if p not in details]
        for path in details:
            found, is_page = _visit(page, server, role, path, notes)
            problems += found
            if is_page:
                opened.append(path)
                problems += _check_links(page, server, role, path, checked)
        return problems, opened, notes
    finally:
        context.close()


def _crawl_public(browser: Any, server: str, seeded: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The pages anyone opens without an account: login, privacy notice, a signing link."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = context.new_page()
    notes: list[str] = []
    problems: list[str] = []
    try:
        for path in seeded["public"]:
            found, _ = _visit(page, server, "public", path, notes)
            problems += found
        # A page that does not exist answers 404 with a sentence, not an exception.
        page.set_viewport_size({"width": 390, "height": 844})
        missing = page.goto(f"{server}/nulle-part")
        problems += [
            p
            for p in _problems_of(
                page, "public", "/nulle-part", 390, missing.status if missing else None
            )
            if "answer 404" not in p
        ]
        return problems, notes
    finally:
        context.close()


@pytest.fixture
def seeded(db: None) -> Iterator[dict[str, Any]]:
    CRAWL.mkdir(parents=True, exist_ok=True)
    for old in CRAWL.glob("*.png"):
        old.unlink()
    yield run(_seed())


def test_every_page_of_every_role(seeded: dict[str, Any], server: str, browser: Any) -> None:
    problems: list[str] = []
    notes: list[str] = []
    report = []
    # CRAWL_ROLES=technician,partner narrows a run while fixing pages; the suite crawls all.
    wanted = [r for r in os.environ.get("CRAWL_ROLES", "").split(",") if r] or list(USERS)
    for role in wanted:
        found, opened, noted = _crawl(browser, server, role, seeded)
        problems += found
        notes += noted
        report.append(f"{role}: {len(opened)} pages: {' '.join(opened)}")
    if not os.environ.get("CRAWL_ROLES"):
        found, noted = _crawl_public(browser, server, seeded)
        problems += found
        notes += noted
        report.append(f"public: {' '.join(seeded['public'])}")
    lines = [*report, "", "Problems:", *problems, "", "Notes (allowed):", *notes]
    (CRAWL / "problems.txt").write_text("\n".join(lines) + "\n")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
