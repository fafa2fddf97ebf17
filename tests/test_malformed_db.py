"""Malformed bodies and parameters on every route: a clear 4xx, never a 500, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.tables import Device, Donation, Donor, Event, Site
from tests.support import new_donation, run
from tests.test_route_guards_db import concrete, route_table

pytestmark = pytest.mark.db

BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    b'{"unexpected": true}',
    b'{"transition": 12, "name": [], "kind": {}, "donor_id": "x", "site_id": null}',
    b'{"name": "' + b"A" * 100_000 + b'"}',
    b'{"donor_id": 1, "site_id": 1, "received_on": "31/12/2026", "device_count": -4}',
    b'{"donor_id": 1, "site_id": 1, "received_on": "2026-01-01", "device_count": 1000000}',
    b'{"transition": "triage", "expected_version": "one"}',
    b'{"transition": "retire", "reason": "sold"}',
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,
]
QUERIES: list[dict[str, str]] = [
    {"limit": "-1"},
    {"limit": "abc", "offset": "-5"},
    {"state": "flying", "kind": "toaster", "grade": "Z"},
    {"q": "%" * 5000},
    {"code": "\x00"},
    {"code": "RE-000001-?"},
    {"site": "one", "donation": "1e9"},
]


def count_rows() -> tuple[int, ...]:
    return tuple(run(t.count()) for t in (Site, Donor, Donation, Device, Event))


def test_no_route_answers_500(client: Any, tokens: dict[str, str]) -> None:
    (tag,) = run(new_donation())
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf", "")
    headers = {"Authorization": f"Bearer {tokens['admin']}", "x-csrftoken": csrf}
    before = count_rows()
    failures = []
    for method, path in route_table():
        url = concrete(path, tag) + ("/" if method == "ASGI" else "")
        if method == "POST":
            for body in BODIES:
                for content_type in ("application/json", "application/x-www-form-urlencoded"):
                    response = client.post(
                        url,
                        content=body,
                        headers={**headers, "content-type": content_type},
                        follow_redirects=False,
                    )
                    if response.status_code >= 500:
                        failures.append(f"POST {path} {body[:40]!r}: {response.status_code}")
        elif method in ("GET", "ASGI"):
            for params in QUERIES:
                response = client.get(url, params=params, headers=headers, follow_redirects=False)
                if response.status_code >= 500:
                    failures.append(f"GET {path} {str(params)[:60]}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert count_rows() == before


def test_validation_errors_are_sentences(client: Any, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/donors",
        json={"name": "", "kind": "alien"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Requête invalide")


def test_oversized_bodies_are_refused(client: Any, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/donors",
        content=b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'"}',
        headers={"Authorization": f"Bearer {tokens['admin']}", "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert run(Donor.count()) == 0
