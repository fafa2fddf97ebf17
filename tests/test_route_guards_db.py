"""Walk the whole route table and check each route's guard for every role, anonymous included."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import route_policies
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
POLICY: dict[tuple[str, str], set[Role] | str] = route_policies.merged() | {
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
    ("ASGI", "/admin"): {Role.admin},
    ("GET", "/labels"): WORKSHOP,
    ("GET", "/labels.pdf"): WORKSHOP,
    ("GET", "/d/{tag:str}/label.pdf"): WORKSHOP,
    ("GET", "/d/{tag:str}/handout.pdf"): STAFF,
    ("POST", "/api/v1/sanitization/records"): WORKSHOP,
    ("GET", "/api/v1/sanitization/records/{record_id:int}"): WORKSHOP,
    ("POST", "/api/v1/sanitization/records/{record_id:int}/heartbeat"): WORKSHOP,
    ("POST", "/api/v1/sanitization/records/{record_id:int}/finish"): WORKSHOP,
    ("GET", "/verify/{certificate_id:str}"): PUBLIC,
    ("GET", "/confidentialite"): PUBLIC,
    ("GET", "/verify/{certificate_id:str}/pdf"): WORKSHOP,
    ("GET", "/verify/{certificate_id:str}/payload.json"): WORKSHOP,
    ("GET", "/verify/{certificate_id:str}/signature.bin"): WORKSHOP,
    ("GET", "/verify/key"): PUBLIC,
    ("GET", "/verify/key.pem"): PUBLIC,
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
    ("GET", "/returns"): LENDING,
    ("POST", "/returns"): LENDING,
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
    ("GET", "/check"): MANAGERS,
    ("GET", "/reports/funder"): MANAGERS | {Role.funder},
    ("GET", "/api/v1/reports/donors/{donor_id:int}"): MANAGERS,
    ("GET", "/api/v1/reports/opendata"): MANAGERS,
    ("GET", "/reports/donors/{donor_id:int}"): MANAGERS,
    ("GET", "/reports/donors/{donor_id:int}/certificates"): MANAGERS,
    ("POST", "/sign/{token:str}"): PUBLIC,
    ("POST", "/api/v1/sites/{site_id:int}/archive"): MANAGERS,
    ("POST", "/api/v1/donors/{donor_id:int}/archive"): MANAGERS,
    ("POST", "/api/v1/organisations/{organisation_id:int}/archive"): MANAGERS,
    ("POST", "/api/v1/programmes/{programme_id:int}/archive"): MANAGERS,
    ("POST", "/api/v1/charters/{charter_id:int}/archive"): MANAGERS,
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
    path = (
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
        .replace("{site_id:int}", "1")
        .replace("{organisation_id:int}", "1")
        .replace("{programme_id:int}", "1")
        .replace("{charter_id:int}", "1")
    )
    return re.sub(r"\{[a-z_]+:str\}", "x", re.sub(r"\{[a-z_]+:int\}", "1", path))


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


ADMIN_PASSWORD = "un mot de passe assez long"
OK = "ok"  # any answer below 400


def admin_matrix(ids: dict[str, int]) -> list[tuple[str, str, Any, str | int | None]]:
    """piccolo-admin's main routes: (method, path, JSON body, expected answer for an admin).

    /admin is for administrators only: every other role (coordinators included) gets 403 and
    anonymous callers are sent to /login, on every route. Organisations and programmes have
    pages of their own and are no longer offered here (404).
    """

    def new_site(role: Role) -> dict[str, str]:
        return {"name": f"Site {role}", "address": "", "phone": ""}

    rows: list[tuple[str, str, Any, str | int | None]] = [
        ("GET", "/admin/", None, OK),
        ("GET", "/admin/api/tables/", None, OK),
        ("GET", "/admin/api/tables/grouped/", None, OK),
        ("GET", "/admin/api/user/", None, OK),
    ]
    for table in ("site", "donor"):
        rows += [
            ("GET", f"/admin/api/tables/{table}/", None, OK),
            ("GET", f"/admin/api/tables/{table}/schema/", None, OK),
            ("GET", f"/admin/api/tables/{table}/{ids[table]}/", None, OK),
            ("PATCH", f"/admin/api/tables/{table}/{ids[table]}/", {"name": "Renommé"}, OK),
            ("PUT", f"/admin/api/tables/{table}/{ids[table]}/", {"name": "x"}, 403),
            ("DELETE", f"/admin/api/tables/{table}/{ids[table]}/", None, 403),
        ]
    for table in ("organisation", "programme"):
        rows += [
            ("GET", f"/admin/api/tables/{table}/", None, 404),
            ("DELETE", f"/admin/api/tables/{table}/{ids[table]}/", None, 403),
        ]
    rows += [
        ("POST", "/admin/api/tables/site/", new_site, OK),
        ("GET", "/admin/api/tables/staff_role/", None, OK),
        ("GET", "/admin/api/tables/api_token/", None, OK),
        ("GET", "/admin/api/tables/piccolo_user/", None, OK),
        ("PATCH", f"/admin/api/tables/staff_role/{ids['staff_role']}/", {"role": "mediator"}, OK),
        ("DELETE", f"/admin/api/tables/api_token/{ids['api_token']}/", None, 403),
        # Rows an administrator may write but that this matrix need not make: refusals only.
        ("POST", "/admin/api/tables/staff_role/", {"user": ids["user"], "role": "admin"}, None),
        ("PATCH", f"/admin/api/tables/piccolo_user/{ids['user']}/", {"admin": True}, None),
        ("DELETE", f"/admin/api/tables/staff_role/{ids['staff_role']}/", None, None),
        ("DELETE", f"/admin/api/tables/piccolo_user/{ids['user']}/", None, None),
        ("POST", "/admin/api/tables/api_token/", {"name": "x", "role": "admin"}, None),
    ]
    return rows


def test_piccolo_admin_routes_guard_every_role(db: None) -> None:
    """The /admin mount, route by route: administrators only, coordinators included in refusals."""
    import contextlib

    from litestar.testing import TestClient

    from inventory.tables import Donor, Site
    from loans.borrowers import ORGANISATION_KINDS, create_organisation
    from loans.tables import Organisation, Programme
    from tests.support import loan_setup
    from web.accounts import create_token, create_user
    from web.app import create_app
    from web.tables import ApiToken, StaffRole

    run(new_donation())
    run(loan_setup())
    run(create_organisation("École Jules Ferry", sorted(ORGANISATION_KINDS)[0]))
    users = {role: run(create_user(f"admin-matrix-{role}", ADMIN_PASSWORD, role)) for role in Role}
    run(create_token("admin-matrix-token", "technician"))
    target = users[Role.technician]
    first = {
        "site": Site,
        "donor": Donor,
        "organisation": Organisation,
        "programme": Programme,
        "api_token": ApiToken,
    }
    ids = {name: run(table.select(table.id).first())["id"] for name, table in first.items()}
    ids["user"] = target
    ids["staff_role"] = run(StaffRole.select(StaffRole.id).where(StaffRole.user == target).first())[
        "id"
    ]
    failures = []
    with contextlib.ExitStack() as stack:

        def browser(role: Role | None) -> tuple[Any, dict[str, str]]:
            client = stack.enter_context(
                TestClient(create_app(), base_url="http://testserver.local")
            )
            if role is None:
                return client, {}
            client.get("/login")
            form = {
                "username": f"admin-matrix-{role}",
                "password": ADMIN_PASSWORD,
                "_csrf_token": client.cookies["reemploi_csrf"],
            }
            assert client.post("/login", data=form, follow_redirects=False).status_code == 303
            client.get("/admin/")
            return client, {"X-CSRFToken": client.cookies.get("csrftoken", "")}

        browsers = {role: browser(role) for role in [None, *Role]}
        # The administrator last: its writes would change rows the others are refused on.
        order = [None, *(r for r in Role if r != Role.admin), Role.admin]
        for method, path, body, expected in admin_matrix(ids):
            for role in order:
                if role == Role.admin and expected is None:
                    continue  # an administrator's right to do it is not what this row checks
                client, headers = browsers[role]
                sent = body(role) if callable(body) else body
                answer = client.request(
                    method, path, json=sent, headers=headers, follow_redirects=False
                )
                got = answer.status_code
                if role is None:
                    to_login = got == 303 and "/login" in answer.headers.get("location", "")
                    if got != 401 and not to_login:
                        failures.append(f"{method} {path}: anonymous got {got}")
                    continue
                want = expected if role == Role.admin else 403
                if (want == OK and got >= 400) or (want != OK and got != want):
                    failures.append(f"{method} {path}: {role} got {got}, expected {want}")
                if got == 403 and "json" in answer.headers.get("content-type", ""):
                    if not answer.json().get("detail"):
                        failures.append(f"{method} {path}: {role} refused without a sentence")
    assert not failures, "\n".join(failures)
