"""The JSON API over HTTP: intake, look-up, transitions, history, errors with sentences."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import new_donation, run

pytestmark = pytest.mark.db


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_lot(client: Any, token: str, **body: Any) -> dict[str, Any]:
    site = client.post("/api/v1/sites", json={"name": "Atelier"}, headers=bearer(token)).json()
    donor = client.post(
        "/api/v1/donors", json={"name": "ACME", "kind": "company"}, headers=bearer(token)
    ).json()
    payload = {"donor_id": donor["id"], "site_id": site["id"], "received_on": "2026-11-02", **body}
    response = client.post("/api/v1/donations", json=payload, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


def test_register_a_lot_then_work_a_device(client: Any, tokens: dict[str, str]) -> None:
    admin = tokens["admin"]
    lot = make_lot(client, admin, device_count=4, kind="desktop", weee_reference="DEEE-12")
    assert len(lot["tags"]) == 4
    tag = lot["tags"][2]
    device = client.get(f"/api/v1/devices/{tag}", headers=bearer(admin)).json()
    assert device["state"] == "received" and device["kind"] == "desktop"
    assert device["allowed_transitions"] == ["triage"]
    response = client.post(
        f"/api/v1/devices/{tag}/transitions",
        json={"transition": "triage", "expected_version": 1},
        headers=bearer(tokens["technician"]),
    )
    assert response.status_code == 200 and response.json()["state"] == "to_wipe"
    again = client.post(
        f"/api/v1/devices/{tag}/transitions",
        json={"transition": "triage"},
        headers=bearer(admin),
    )
    assert again.status_code == 409
    assert "impossible depuis l'état « À effacer »" in again.json()["detail"]
    events = client.get(f"/api/v1/devices/{tag}/events", headers=bearer(admin)).json()
    assert [e["kind"] for e in events] == ["registered", "triage"]
    assert events[1]["actor"] == "token:test-technician"


def test_a_lot_listed_device_by_device(client: Any, tokens: dict[str, str]) -> None:
    devices = [{"kind": "laptop", "brand": "Dell", "model": "Latitude 5490", "serial": "ABC123"}]
    lot = make_lot(client, tokens["admin"], devices=devices * 3)
    listed = client.get(
        "/api/v1/devices", params={"q": "latitude", "limit": 2}, headers=bearer(tokens["admin"])
    ).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    assert {d["asset_tag"] for d in listed["items"]} <= set(lot["tags"])


def test_filters_and_pagination(client: Any, tokens: dict[str, str]) -> None:
    tags = run(new_donation(6))
    head = bearer(tokens["coordinator"])
    for tag in tags[:2]:
        client.post(
            f"/api/v1/devices/{tag}/transitions", json={"transition": "triage"}, headers=head
        )
    to_wipe = client.get("/api/v1/devices", params={"state": "to_wipe"}, headers=head).json()
    assert sorted(d["asset_tag"] for d in to_wipe["items"]) == sorted(tags[:2])
    page2 = client.get("/api/v1/devices", params={"limit": 4, "offset": 4}, headers=head).json()
    assert page2["total"] == 6 and len(page2["items"]) == 2
    bad = client.get("/api/v1/devices", params={"state": "flying"}, headers=head)
    assert bad.status_code == 400 and "invalide" in bad.json()["detail"]


def test_lookup_says_misread_or_unknown(client: Any, tokens: dict[str, str]) -> None:
    (tag,) = run(new_donation())
    head = bearer(tokens["technician"])
    found = client.get("/api/v1/lookup", params={"code": f"https://x.org/d/{tag}"}, headers=head)
    assert found.status_code == 200 and found.json()["asset_tag"] == tag
    misread = tag[:-1] + ("Z" if tag[-1] != "Z" else "Y")
    response = client.get("/api/v1/lookup", params={"code": misread}, headers=head)
    assert response.status_code == 422 and "Rescannez" in response.json()["detail"]
    unknown = client.get("/api/v1/lookup", params={"code": "RE-099999-" + "0"}, headers=head)
    assert unknown.status_code in (404, 422)
    from inventory.tags import format_tag

    absent = client.get("/api/v1/lookup", params={"code": format_tag("RE", 99999)}, headers=head)
    assert absent.status_code == 404 and "Aucun appareil" in absent.json()["detail"]


def test_login_with_a_session_and_a_csrf_protected_form(client: Any) -> None:
    from web.accounts import create_user

    run(create_user("claire", "un mot de passe long", "technician"))
    (tag,) = run(new_donation())
    assert client.get("/api/v1/me").status_code == 401
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    wrong = client.post(
        "/login", data={"username": "claire", "password": "nope", "_csrf_token": csrf}
    )
    assert "incorrect" in wrong.text and client.get("/api/v1/me").status_code == 401
    ok = client.post(
        "/login",
        data={"username": "claire", "password": "un mot de passe long", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert client.get("/api/v1/me").json() == {"name": "claire", "role": "technician"}
    page = client.get(f"/d/{tag}")
    assert page.status_code == 200 and tag in page.text and "Trier" in page.text
    no_token = client.post(f"/d/{tag}/transitions", data={"transition": "triage"})
    assert no_token.status_code == 403
    form = client.post(
        f"/d/{tag}/transitions",
        data={"transition": "triage", "expected_version": "1", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"] == f"/d/{tag}"
    assert "À effacer" in client.get(f"/d/{tag}").text
    client.post("/logout", data={"_csrf_token": csrf})
    assert client.get("/api/v1/me").status_code == 401


def test_unknown_and_revoked_tokens_are_refused(client: Any) -> None:
    response = client.get("/api/v1/me", headers=bearer("rmp_not-a-token"))
    assert response.status_code == 401 and "Jeton" in response.json()["detail"]


def test_openapi_is_served(client: Any) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert "/api/v1/devices/{tag}/transitions" in schema["paths"]
