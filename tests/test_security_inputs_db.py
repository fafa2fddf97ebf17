"""Hostile inputs and outputs (issue 13): spreadsheet bombs, formula injection, huge integers,
and a busy database, each through HTTP.

The bombs go to the real server while a thread polls /healthz every 50 ms: the upload must be
refused within 5 s and every health answer come back within 100 ms.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
import threading
import time
import typing
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import openpyxl
import pytest

from tests.support import loan_setup, new_donation, ready_devices, run, signature_png

pytestmark = pytest.mark.db

PASSWORD = "un mot de passe assez long"
HUGE = (2**63, 2**64)
HYPERLINK = '=HYPERLINK("http://x","y")'
AT_SUM = "@SUM(1)"
ROW_WITH_NUMBER = (
    b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>portable</t></is></c><c r="B%d"><v>%d</v></c>'
    b"</row>"
)
SAME_ROW = b'<row><c t="inlineStr"><is><t>portable</t></is></c></row>'


# --- spreadsheet bombs -------------------------------------------------------------------------


def xlsx_without_dimension(write_rows: typing.Callable[[typing.IO[bytes]], None]) -> bytes:
    """A workbook written by openpyxl (write-only mode: no <dimension>), its sheet data replaced
    by what `write_rows` streams in."""
    book = openpyxl.Workbook(write_only=True)
    book.create_sheet().append(["type", "marque"])
    source = io.BytesIO()
    book.save(source)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for item in original.infolist():
            body = original.read(item.filename)
            if not item.filename.startswith("xl/worksheets/sheet"):
                bomb.writestr(item.filename, body)
                continue
            assert b"<dimension" not in body
            head, tail = body.split(b"</sheetData>")
            with bomb.open(item.filename, "w") as sheet:
                sheet.write(head)
                write_rows(sheet)
                sheet.write(b"</sheetData>" + tail)
    return out.getvalue()


def many_numbered_rows(sheet: typing.IO[bytes]) -> None:
    """90 000 distinct rows: under the expanded-size cap, so only the row limit stops them."""
    for first in range(2, 90_002, 1000):
        sheet.write(b"".join(ROW_WITH_NUMBER % (i, i, i, i) for i in range(first, first + 1000)))


def millions_of_rows(sheet: typing.IO[bytes]) -> None:
    """About 450 MB of rows that compress to about 1.3 MB."""
    chunk = SAME_ROW * 10_000
    for _ in range(800):
        sheet.write(chunk)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "rows.xlsx": xlsx_without_dimension(many_numbered_rows),
        "expanding.xlsx": xlsx_without_dimension(millions_of_rows),
        "lines.csv": b"type;marque\n" + b"portable;HP\n" * 400_000,
    }


def logged_in(url: str, role: str) -> httpx.Client:
    """A person's browser session on the real server (login form with its CSRF token)."""
    from web.accounts import create_user

    run(create_user(f"{role}-bomb", PASSWORD, role))
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/login")
    form = {
        "username": f"{role}-bomb",
        "password": PASSWORD,
        "_csrf_token": client.cookies["reemploi_csrf"],
    }
    assert client.post("/login", data=form).status_code in (200, 303)
    return client


@contextlib.contextmanager
def health_poller(url: str) -> Iterator[list[float]]:
    """Times GET /healthz every 50 ms until the block ends; a failed answer counts as 10 s."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.monotonic() - began if ok else 10.0)
                stop.wait(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.3)  # a few answers before the upload, as a baseline
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("name", ["rows.xlsx", "expanding.xlsx", "lines.csv"])
def test_a_spreadsheet_bomb_is_refused_fast_while_the_server_answers(
    db: None, server: str, bombs: dict[str, bytes], name: str
) -> None:
    from inventory import intake
    from inventory.tables import Device, Donation

    site = run(intake.create_site("Atelier"))
    client = logged_in(server, "technician")
    form = {
        "received_on": date.today().isoformat(),
        "site_id": str(site["id"]),
        "new_donor_name": "Donateur piégé",
        "new_donor_kind": "company",
        "_csrf_token": client.cookies["reemploi_csrf"],
    }
    with health_poller(server) as latencies:
        began = time.monotonic()
        answer = client.post("/intake", data=form, files={"spreadsheet": (name, bombs[name])})
        refused_in = time.monotonic() - began
        time.sleep(0.2)
    worst = max(latencies)
    print(
        f"\n{name} ({len(bombs[name]) // 1000} KB): refused in {refused_in:.2f} s, "
        f"/healthz max {worst * 1000:.0f} ms over {len(latencies)} polls"
    )
    assert answer.status_code == 422, answer.text[:500]
    assert any(
        sentence in answer.text
        for sentence in ("2000 appareils au plus", "2000 au plus", "10 Mo au plus")
    ), answer.text[:2000]
    assert refused_in < 5, f"refused after {refused_in:.1f} s"
    assert worst < 0.1, f"/healthz took up to {worst * 1000:.0f} ms during the upload"
    assert run(Donation.count()) == 0 and run(Device.count()) == 0


def test_spreadsheet_limits_name_themselves() -> None:
    """The cell and column caps, straight on the parser (the server test covers rows and size)."""
    from inventory.errors import Invalid
    from inventory.spreadsheet import MAX_COLUMNS, read_devices

    with pytest.raises(Invalid, match="1000 caractères"):
        read_devices(b"type;marque\nportable;" + b"x" * 1001 + b"\n", "a.csv")
    extra = ";".join(f"c{i}" for i in range(MAX_COLUMNS + 10))
    wide = f"type;marque;{extra}\nportable;HP;{extra}\n"
    (spec,) = read_devices(wide.encode(), "a.csv")
    assert spec.brand == "HP"


# --- formula injection -------------------------------------------------------------------------


def lend_to(commune: str, insee: str, programme_id: int) -> None:
    from loans import borrowers, checkout

    borrower = run(
        borrowers.create_borrower(
            borrowers.BorrowerIn(full_name=f"Habitant {insee}", commune=commune, insee_code=insee)
        )
    )
    (tag,) = run(ready_devices(1))
    run(
        checkout.checkout(
            checkout.CheckoutIn(borrower["id"], [tag], programme_id=programme_id),
            checkout.SignatureIn("drawn", signature_png(), f"Habitant {insee}", "self"),
            "mediatrice",
        )
    )


def test_exports_neutralise_formulas(client: Any, tokens: dict[str, str]) -> None:
    from loans import borrowers

    run(loan_setup())
    programme = run(borrowers.create_programme(HYPERLINK, AT_SUM))
    lend_to(HYPERLINK, "69123", programme["id"])
    lend_to(AT_SUM, "69381", programme["id"])
    bearer = {"Authorization": f"Bearer {tokens['coordinator']}"}
    today, week_ago = date.today(), date.today() - timedelta(days=7)
    period = f"from={week_ago}&to={today}"
    report = f"/api/v1/reports/funder?programme={programme['id']}&{period}"

    book = openpyxl.load_workbook(
        io.BytesIO(client.get(report + "&format=xlsx", headers=bearer).content)
    )
    cells = {c.value: c for row in book["Rapport"].iter_rows() for c in row if c.value}
    for name in (HYPERLINK, AT_SUM):
        cell = cells.get("'" + name)
        assert cell is not None and cell.data_type == "s", sorted(map(str, cells))
    assert not [c for c in cells.values() if c.data_type == "f"]
    numbers = [c.value for c in cells.values() if c.data_type == "n"]
    assert numbers and all(isinstance(v, int | float) for v in numbers)

    text = client.get(report + "&format=csv", headers=bearer).content.decode("utf-8-sig")
    values = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert "'" + HYPERLINK in values and "'" + AT_SUM in values
    assert not [v for v in values if v[:1] in ("=", "+", "-", "@", "\t", "\r")]

    opendata = client.get(f"/api/v1/reports/opendata?{period}", headers=bearer)
    assert opendata.status_code == 200, opendata.text
    rows = list(csv.DictReader(io.StringIO(opendata.text)))
    assert {r["commune"] for r in rows} == {"'" + HYPERLINK, "'" + AT_SUM}


def test_the_cell_rule_keeps_numbers_and_plain_text() -> None:
    from loans.reports.cells import safe_row

    assert safe_row([-3, 2.5, "-3", "+33 6", "\tx", "\rx", "Lyon", "", None]) == [
        -3,
        2.5,
        "'-3",
        "'+33 6",
        "'\tx",
        "'\rx",
        "Lyon",
        "",
        None,
    ]


# --- integers the database cannot hold ---------------------------------------------------------


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    args = typing.get_args(annotation)
    return bool(args) and any(_is_int(a) for a in args)


def int_inputs() -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, int path parameters, int query parameters) for every route that has one."""
    from web.app import create_app

    found = []
    for route in create_app().routes:
        for handler in getattr(route, "route_handlers", None) or []:
            path_params = [p for p, d in route.path_parameters.items() if d.type is int]
            signatures = [handler.parsed_fn_signature]
            for provide in handler.resolve_dependencies().values():
                signatures.append(provide.parsed_fn_signature)
            query = []
            for signature in signatures:
                for name, field in signature.parameters.items():
                    alias = getattr(field.kwarg_definition, "query", None) or name
                    if name not in path_params and _is_int(field.annotation):
                        query.append(alias)
            if path_params or query:
                for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                    found.append((method, route.path, path_params, sorted(set(query))))
    return sorted(found)


def test_huge_integers_in_paths_and_queries_are_refused(
    client: Any, tokens: dict[str, str]
) -> None:
    bearer = {"Authorization": f"Bearer {tokens['admin']}"}
    client.get("/login")
    headers = {**bearer, "x-csrftoken": client.cookies.get("reemploi_csrf", "")}
    routes = int_inputs()
    assert len(routes) >= 30, routes
    failures = []
    for method, path, path_params, query in routes:
        for value in HUGE:
            url = path
            for name in path_params:
                url = url.replace(f"{{{name}:int}}", str(value))
            cases = [url] if path_params else []
            cases += [f"{url}?{name}={value}&from=2026-01-01&to=2026-12-31" for name in query]
            for case in cases:
                body = {} if method == "POST" else None
                answer = client.request(method, case, json=body, headers=headers)
                if answer.status_code >= 500:
                    failures.append(f"{method} {case}: {answer.status_code} {answer.text[:200]}")
                elif answer.status_code == 400 and "json" in answer.headers["content-type"]:
                    assert answer.json()["detail"], answer.text
    assert not failures, "\n".join(failures)


def test_huge_integers_in_bodies_are_refused(client: Any, tokens: dict[str, str]) -> None:
    (tag,) = run(new_donation())
    bearer = {"Authorization": f"Bearer {tokens['admin']}"}
    today = date.today().isoformat()
    bodies = [
        ("/api/v1/donations", {"donor_id": 2**63, "site_id": 2**63, "received_on": today,
                               "device_count": 1}),
        ("/api/v1/loans/links", {"borrower_id": 2**63, "tags": [tag], "programme_id": 2**63}),
        ("/api/v1/loans", {"borrower_id": 2**63, "tags": [tag], "programme_id": 2**63}),
        (f"/api/v1/devices/{tag}/transitions", {"transition": "triage",
                                                "expected_version": 2**63}),
    ]  # fmt: skip
    failures = []
    for path, body in bodies:
        for value in HUGE:
            sent = {k: value if v == 2**63 else v for k, v in body.items()}
            answer = client.post(path, json=sent, headers=bearer)
            if answer.status_code >= 500:
                failures.append(f"POST {path} {sent}: {answer.status_code} {answer.text[:200]}")
    page = client.post(
        "/intake",
        data={"site_id": str(2**63), "donor_id": str(2**63), "received_on": today,
              "device_count": "1", "_csrf_token": client.cookies.get("reemploi_csrf", "")},
        headers=bearer,
    )  # fmt: skip
    if page.status_code >= 500:
        failures.append(f"POST /intake: {page.status_code}")
    assert not failures, "\n".join(failures)


# --- a busy database ---------------------------------------------------------------------------


@contextlib.contextmanager
def write_lock_held(engine_name: str) -> Iterator[None]:
    """Another connection holds the write lock, and the app gives up waiting after 0.2 s."""
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if engine_name == "sqlite":
        saved = engine.connection_kwargs["timeout"]
        engine.connection_kwargs["timeout"] = 0.2
        other = sqlite3.connect(engine.connection_kwargs["database"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            engine.connection_kwargs["timeout"] = saved
        return
    yield from _pg_lock_held(engine)


def _pg_lock_held(engine: Any) -> Iterator[None]:
    import asyncio

    import asyncpg

    dsn = engine.config["dsn"]
    loop = asyncio.new_event_loop()
    other = loop.run_until_complete(asyncpg.connect(dsn))
    database = loop.run_until_complete(other.fetchval("SELECT current_database()"))
    # New connections (the tests open one per query) give up waiting for a lock after 0.2 s.
    loop.run_until_complete(other.execute(f'ALTER DATABASE "{database}" SET lock_timeout = 200'))
    transaction = other.transaction()
    loop.run_until_complete(transaction.start())
    loop.run_until_complete(other.execute("LOCK TABLE donor IN EXCLUSIVE MODE"))
    try:
        yield
    finally:
        loop.run_until_complete(transaction.rollback())
        loop.run_until_complete(other.execute(f'ALTER DATABASE "{database}" RESET lock_timeout'))
        loop.run_until_complete(other.close())
        loop.close()


def test_a_busy_database_answers_503_with_a_sentence(
    client: Any, tokens: dict[str, str], engine_name: str
) -> None:
    from inventory.tables import Donor

    bearer = {"Authorization": f"Bearer {tokens['technician']}"}
    with write_lock_held(engine_name):
        answer = client.post(
            "/api/v1/donors", json={"name": "Mairie", "kind": "public_body"}, headers=bearer
        )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert "réessayez" in answer.json()["detail"] and "Traceback" not in answer.text
    assert run(Donor.count()) == 0
    again = client.post(
        "/api/v1/donors", json={"name": "Mairie", "kind": "public_body"}, headers=bearer
    )
    assert again.status_code == 201, again.text
