"""The public privacy notice (/confidentialite) and the links to it where borrowers sign."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.support import CHARTER_TEXT, ready_devices, run

pytestmark = pytest.mark.db


def test_the_notice_is_public_and_says_what_is_kept(client: Any) -> None:
    page = client.get("/confidentialite")
    assert page.status_code == 200
    text = page.text
    assert 'id="retention">2 ans<' in text
    for said in ("code", "statistiques anonymes", "[anonymisé]", "Demander vos données"):
        assert said in text, said


def test_the_notice_follows_the_retention_setting(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEMPLOI_RETENTION_DAYS", "1000")
    assert 'id="retention">1000 jours<' in client.get("/confidentialite").text


def test_checkout_and_signing_pages_link_to_the_notice(client: Any, tokens: dict[str, str]) -> None:
    staff = {"Authorization": f"Bearer {tokens['coordinator']}"}
    checkout = client.get("/loans/new", headers=staff)
    assert checkout.status_code == 200 and 'href="/confidentialite"' in checkout.text
    charter = {"title": "Charte", "text": CHARTER_TEXT, "in_force_from": date.today().isoformat()}
    assert client.post("/api/v1/charters", json=charter, headers=staff).status_code == 201
    borrower = client.post(
        "/api/v1/borrowers", json={"kind": "household", "full_name": "Lou Martin"}, headers=staff
    ).json()
    (tag,) = run(ready_devices(1))
    link = client.post(
        "/api/v1/loans/links", json={"borrower_id": borrower["id"], "tags": [tag]}, headers=staff
    )
    assert link.status_code == 201, link.text
    path = "/sign/" + link.json()["url"].rsplit("/sign/", 1)[1]
    signing = client.get(path)
    assert signing.status_code == 200 and 'href="/confidentialite"' in signing.text
