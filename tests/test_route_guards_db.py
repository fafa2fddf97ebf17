"""Walk the whole route table and check each route's guard for every role, anonymous included."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import new_donation, run
from web.roles import Role

pytestmark = pytest.mark.db

ALL = set(Role)
STAFF = {Role.technician, Role.mediator, Role.coordinator, Role.admin}
WORKSHOP = {Role.technician, Role.coordinator, Role.admin}
MANAGERS = {Role.coordinator, Role.admin}
LENDING = {Role.mediator, Role.coordinator, Role.admin}
PUBLIC = "public"

# The policy, written here independently of the handlers' declarations: (method, path) -> roles.
POLICY: dict[tuple[str, str], set[Role] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("HEAD", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("POST", "/logout"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/d/{tag:str}"): STAFF,
    ("POST", "/d/{tag:str}/transitions"): WORKSHOP,
    ("GET", "/api/v1/me"): ALL,
    ("GET", "/api/v1/devices"): STAFF,
    ("GET", "/api/v1/devices/{tag:str}"): STAFF,
    ("GET", "/api/v1/devices/{tag:str}/events"): STAFF,
    ("POST", "/api/v1/devices/{tag:str}/transitions"): WORKSHOP,
    ("GET", "/api/v1/lookup"): STAFF,
    ("GET", "/api/v1/transitions"): STAFF,
    ("GET", "/api/v1/sites"): STAFF,
    ("POST", "/api/v1/sites"): MANAGERS,
    ("GET", "/api/v1/donors"): WORKSHOP,
    ("POST", "/api/v1/donors"): WORKSHOP,
    ("GET", "/api/v1/donations"): WORKSHOP,
    ("POST", "/api/v1/donations"): WORKSHOP,
    ("GET", "/api/v1/donations/{donation_id:int}"): WORKSHOP,
    ("GET", "/api/v1/events"): MANAGERS,
    ("GET", "/lang/{code:str}"): PUBLIC,
    ("GET", "/devices"): STAFF,
    ("GET", "/scan"): STAFF,
    ("POST", "/scan"): STAFF,
    ("POST", "/api/v1/scan"): STAFF,
    ("GET", "/intake"): WORKSHOP,
    ("POST", "/intake"): WORKSHOP,
    ("GET", "/intake/device"): WORKSHOP,
    ("POST", "/intake/device"): WORKSHOP,
    ("GET", "/donations/{donation_id:int}"): WORKSHOP,
    ("ASGI", "/admin"): MANAGERS,
    ("GET", "/labels"): WORKSHOP,
    ("GET", "/labels.pdf"): WORKSHOP,
    ("GET", "/d/{tag:str}/label.pdf"): WORKSHOP,
    ("GET", "/d/{tag:str}/handout.pdf"): STAFF,
    ("POST", "/api/v1/sanitization/records"): WORKSHOP,
    ("GET", "/api/v1/sanitization/records/{record_id:int}"): WORKSHOP,
    ("POST", "/api/v1/sanitization/records/{record_id:int}/heartbeat"): WORKSHOP,
    ("POST", "/api/v1/sanitization/records/{record_id:int}/finish"): WORKSHOP,
    ("GET", "/verify/{certificate_id:str}"): PUBLIC,
    ("GET", "/verify/{certificate_id:str}/pdf"): WORKSHOP,
    ("GET", "/donations/{donation_id:int}/certificate"): WORKSHOP,
    ("GET", "/api/v1/organisations"): LENDING,
    ("POST", "/api/v1/organisations"): LENDING,
    ("GET", "/api/v1/borrowers"): LENDING,
    ("POST", "/api/v1/borrowers"): LENDING,
    ("GET", "/api/v1/borrowers/{borrower_id:int}"): LENDING,
    ("GET", "/api/v1/borrowers/{borrower_id:int}/export"): LENDING,
    ("GET", "/api/v1/borrowers/{borrower_id:int}/export.pdf"): LENDING,
    ("POST", "/api/v1/borrowers/{borrower_id:int}/erase"): MANAGERS,
    ("GET", "/api/v1/programmes"): LENDING,
    ("POST", "/api/v1/programmes"): MANAGERS,
    ("GET", "/api/v1/charters"): LENDING,
    ("GET", "/api/v1/charters/current"): LENDING,
    ("POST", "/api/v1/charters"): MANAGERS,
    ("GET", "/api/v1/loans"): LENDING,
    ("POST", "/api/v1/loans"): LENDING,
    ("GET", "/api/v1/loans/{loan_id:int}"): LENDING,
    ("GET", "/api/v1/loans/{loan_id:int}/events"): LENDING,
    ("GET", "/api/v1/loans/{loan_id:int}/charter.pdf"): LENDING,
    ("POST", "/api/v1/loans/returns"): LENDING,
    ("GET", "/api/v1/repairs"): STAFF,
    ("POST", "/api/v1/repairs/{ticket_id:int}/close"): STAFF,
    ("GET", "/api/v1/sessions"): LENDING,
    ("GET", "/api/v1/sessions/{session_id:int}"): LENDING,
    ("POST", "/api/v1/sessions/{session_id:int}/record"): LENDING,
    ("POST", "/api/v1/sessions/workshops"): LENDING,
    ("GET", "/api/v1/reminders"): LENDING,
    ("GET", "/loans"): LENDING,
    ("GET", "/loans/new"): LENDING,
    ("POST", "/loans/new"): LENDING,
    ("GET", "/loans/{loan_id:int}"): LENDING,
    ("GET", "/loans/{loan_id:int}/charter.pdf"): LENDING,
    ("GET", "/agenda"): LENDING,
    ("GET", "/returns"): LENDING,
    ("POST", "/returns"): LENDING,
    ("GET", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/api/v1/loans/links"): LENDING,
    ("GET", "/sign/{token:str}"): PUBLIC,
    ("GET", "/api/v1/imaging/images"): WORKSHOP,
    ("GET", "/api/v1/imaging/host-keys"): WORKSHOP,
    ("POST", "/api/v1/imaging/host-keys"): MANAGERS,
    ("GET", "/api/v1/imaging/deployments"): WORKSHOP,
    ("GET", "/api/v1/imaging/deployments/{job_id:int}"): WORKSHOP,
    ("POST", "/api/v1/imaging/deployments"): WORKSHOP,
    ("GET", "/imaging"): WORKSHOP,
    ("POST", "/imaging/deploy"): WORKSHOP,
    ("POST", "/imaging/host-keys"): MANAGERS,
    ("GET", "/api/v1/reports/funder"): MANAGERS | {Role.funder},
    ("GET", "/reports"): MANAGERS | {Role.funder},
    ("GET", "/reports/funder"): MANAGERS | {Role.funder},
    ("GET", "/api/v1/reports/donors/{donor_id:int}"): MANAGERS,
    ("GET", "/api/v1/reports/opendata"): MANAGERS,
    ("GET", "/reports/donors/{donor_id:int}"): MANAGERS,
    ("GET", "/reports/donors/{donor_id:int}/certificates"): MANAGERS,
    ("POST", "/sign/{token:str}"): PUBLIC,
}


def route_table() -> list[tuple[str, str]]:
    from web.app import create_app

    pairs = []
    for route in create_app().routes:
        handlers = getattr(route, "route_handlers", None) or [route.route_handler]
        for handler in handlers:
            # Mounted ASGI apps (piccolo-admin) take every method; they are walked with GET.
            for method in getattr(handler, "http_methods", None) or ["ASGI"]:
                pairs.append((method, route.path))
    return sorted(set(pairs))


def concrete(path: str, tag: str) -> str:
    return (
        path.replace("{tag:str}", tag)
        .replace("{donation_id:int}", "1")
        .replace("{file_path:path}", "app.css")
        .replace("{path:str}", "openapi.json")
        .replace("{code:str}", "en")
        .replace("{record_id:int}", "1")
        .replace("{certificate_id:str}", "AAAA-BBBB-CCCC-DDDD")
        .replace("{loan_id:int}", "1")
        .replace("{borrower_id:int}", "1")
        .replace("{session_id:int}", "1")
        .replace("{ticket_id:int}", "1")
        .replace("{token:str}", "unknown-token")
        .replace("{job_id:int}", "1")
        .replace("{donor_id:int}", "1")
    )


def call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "ASGI":
        method, path = "GET", path + "/"
    csrf = client.cookies.get("reemploi_csrf", "")
    headers = {**headers, "x-csrftoken": csrf}
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, path, json={}, headers=headers, follow_redirects=False)
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_every_route_is_in_the_policy() -> None:
    declared = {pair for pair in route_table() if pair[0] != "OPTIONS"}
    # Litestar registers /schema/openapi.json on first use; it is covered by /schema/{path}.
    assert declared | {("GET", "/schema/openapi.json")} == set(POLICY), (
        f"undeclared: {declared - set(POLICY)}; stale: {set(POLICY) - declared}"
    )


def test_every_route_guards_every_role(client: Any, tokens: dict[str, str]) -> None:
    (tag,) = run(new_donation())
    client.get("/login")  # the CSRF cookie, so that forms are judged on roles alone
    failures = []
    for method, path in route_table():
        url = concrete(path, tag)
        # Litestar answers OPTIONS itself on every path, with the allowed methods only.
        policy = PUBLIC if method == "OPTIONS" else POLICY.get((method, path), set())
        anonymous = call(client, method, url, {})
        if policy == PUBLIC:
            if anonymous.status_code in (401, 403):
                failures.append(f"{method} {path}: public but refused ({anonymous.status_code})")
            continue
        redirected = anonymous.status_code == 303 and "/login" in anonymous.headers.get(
            "location", ""
        )
        if anonymous.status_code != 401 and not redirected:
            failures.append(f"{method} {path}: anonymous got {anonymous.status_code}")
        for role in Role:
            response = call(client, method, url, {"Authorization": f"Bearer {tokens[role]}"})
            allowed = role in policy
            if allowed and response.status_code in (401, 403):
                failures.append(f"{method} {path}: {role} refused ({response.status_code})")
            if not allowed and response.status_code != 403:
                failures.append(f"{method} {path}: {role} got {response.status_code}, not 403")
    assert not failures, "\n".join(failures)
