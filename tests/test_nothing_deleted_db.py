"""Nothing a funder or donor may ask about is deleted, and only administrators give roles.

DESIGN invariant 9 and issues 11 and 12: through /admin as an administrator would use it and as a
coordinator would try it (our login, then piccolo-admin with its CSRF cookie and header; /admin is
for administrators only), through raw SQL, through the
archive API and through `reemploi token revoke`. Every refusal is checked to change no row.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import TABLES, loan_setup, new_donation, ready_devices, run, signature_png

pytestmark = pytest.mark.db

PASSWORD = "un mot de passe assez long"
REEMPLOI = str(Path(sys.executable).parent / "reemploi")


async def _counts() -> dict[str, int]:
    from piccolo.engine import engine_finder
    from piccolo.querystring import QueryString

    engine = engine_finder()
    counts = {}
    for table in TABLES:
        rows = await engine.run_querystring(QueryString(f"SELECT COUNT(*) AS n FROM {table}"))
        counts[table] = int(rows[0]["n"])
    return counts


def counts() -> dict[str, int]:
    """The number of rows of every table of the application."""
    return run(_counts())


@pytest.fixture
def open_client(db: None) -> Iterator[Callable[[], Any]]:
    """Opens as many browsers (test clients, each with its own cookies) as a test needs."""
    from litestar.testing import TestClient

    from web.app import create_app

    with contextlib.ExitStack() as stack:

        def opener() -> Any:
            return stack.enter_context(TestClient(create_app(), base_url="http://testserver.local"))

        yield opener


def login(client: Any, username: str) -> dict[str, str]:
    """Log in through /login, open /admin/, and return piccolo-admin's CSRF header.

    Only an administrator is let into /admin; anyone else gets 403 there and no piccolo-admin
    CSRF cookie, so their header is empty (the refusal is the role's, before any CSRF check).
    """
    client.get("/login")
    form = {
        "username": username,
        "password": PASSWORD,
        "_csrf_token": client.cookies["reemploi_csrf"],
    }
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    opened = client.get("/admin/")
    if opened.status_code == 403:
        return {"X-CSRFToken": ""}
    assert opened.status_code == 200
    return {"X-CSRFToken": client.cookies["csrftoken"]}


def people() -> dict[str, int]:
    from web.accounts import create_user

    return {
        name: run(create_user(name, PASSWORD, role))
        for name, role in [("coord", "coordinator"), ("root", "admin"), ("tech", "technician")]
    }


def staff_role_id(user_id: int) -> int:
    from web.tables import StaffRole

    return run(StaffRole.select(StaffRole.id).where(StaffRole.user == user_id).first())["id"]


def role_of(user_id: int) -> str:
    from web.tables import StaffRole

    return run(StaffRole.select(StaffRole.role).where(StaffRole.user == user_id).first())["role"]


def a_donor_with_history() -> int:
    """A donor whose donation has two devices with events, a disk and a sanitization record."""
    from inventory import devices
    from inventory.tables import Donation

    tags = run(new_donation(2))
    device = run(devices.get_device(tags[0]))
    disk_id = run(devices.add_disk(device["id"], model="SSD", serial="S-1", size_bytes=10**9))
    run(devices.apply_transition(tags[0], "triage", "test"))
    run(devices.record_disk_sanitized(disk_id, True, "test", {"method": "clear"}))
    return run(Donation.select(Donation.donor).where(Donation.id == device["donation"]).first())[
        "donor"
    ]


def test_no_one_deletes_a_donor_through_admin(open_client: Callable[[], Any]) -> None:
    people()
    donor_id = a_donor_with_history()
    coordinator, administrator = open_client(), open_client()
    csrf, admin_csrf = login(coordinator, "coord"), login(administrator, "root")
    before = counts()
    assert before["device"] == 2 and before["event"] >= 3 and before["disk"] == 1

    # A coordinator is not let into /admin at all, whatever the method.
    for method in ("GET", "DELETE", "PUT", "PATCH"):
        answer = coordinator.request(
            method, f"/admin/api/tables/donor/{donor_id}/", json={"name": "x"}, headers=csrf
        )
        assert answer.status_code == 403, (method, answer.status_code)

    refused = administrator.delete(f"/admin/api/tables/donor/{donor_id}/", headers=admin_csrf)
    assert refused.status_code == 403 and "archivez-le" in refused.json()["detail"]
    bulk = administrator.delete(f"/admin/api/tables/donor/?id={donor_id}", headers=admin_csrf)
    assert bulk.status_code == 403
    site = administrator.delete("/admin/api/tables/site/1/", headers=admin_csrf)
    assert site.status_code == 403
    # Organisations and programmes have their own pages: the admin does not even offer them.
    for table in ("organisation", "programme"):
        gone = administrator.delete(f"/admin/api/tables/{table}/1/", headers=admin_csrf)
        assert gone.status_code in (403, 404), (table, gone.status_code)
    put = administrator.put(
        f"/admin/api/tables/donor/{donor_id}/", json={"name": "x"}, headers=admin_csrf
    )
    assert put.status_code == 403
    assert counts() == before

    # The same session may still edit reference data: the refusals above are ours, not CSRF's.
    edited = administrator.patch(
        f"/admin/api/tables/donor/{donor_id}/",
        json={"name": "Mairie de Villeurbanne", "archived_at": datetime.now(UTC).isoformat()},
        headers=admin_csrf,
    )
    assert edited.status_code == 200, edited.text
    from inventory.tables import Donor

    row = run(Donor.select().where(Donor.id == donor_id).first())
    assert row["name"] == "Mairie de Villeurbanne"
    assert row["archived_at"] is None  # archiving writes an event: the admin form cannot
    assert counts() == before


def test_a_coordinator_cannot_raise_a_role(open_client: Callable[[], Any]) -> None:
    ids = people()
    coordinator = open_client()
    csrf = login(coordinator, "coord")
    before = counts()

    for user in ("coord", "tech"):
        url = f"/admin/api/tables/staff_role/{staff_role_id(ids[user])}/"
        raised = coordinator.patch(url, json={"role": "admin"}, headers=csrf)
        assert raised.status_code == 403 and raised.json()["detail"]
        put = coordinator.put(url, json={"user": ids[user], "role": "admin"}, headers=csrf)
        assert put.status_code == 403
    flags = coordinator.patch(
        f"/admin/api/tables/piccolo_user/{ids['coord']}/",
        json={"superuser": True},
        headers=csrf,
    )
    assert flags.status_code == 403
    new_role = coordinator.post(
        "/admin/api/tables/staff_role/", json={"user": ids["tech"], "role": "admin"}, headers=csrf
    )
    assert new_role.status_code == 403
    assert counts() == before
    assert (role_of(ids["coord"]), role_of(ids["tech"])) == ("coordinator", "technician")
    assert coordinator.get("/api/v1/me").json()["role"] == "coordinator"

    administrator = open_client()
    admin_csrf = login(administrator, "root")
    url = f"/admin/api/tables/staff_role/{staff_role_id(ids['tech'])}/"
    changed = administrator.patch(url, json={"role": "mediator"}, headers=admin_csrf)
    assert changed.status_code == 200, changed.text
    assert role_of(ids["tech"]) == "mediator"


def test_only_an_admin_creates_an_admin_token(open_client: Callable[[], Any]) -> None:
    from web.tables import ApiToken

    people()
    token = "rmp_" + uuid.uuid4().hex
    row = {
        "name": "porte dérobée",
        "role": "admin",
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    coordinator = open_client()
    csrf = login(coordinator, "coord")
    before = counts()
    refused = coordinator.post("/admin/api/tables/api_token/", json=row, headers=csrf)
    assert refused.status_code == 403 and refused.json()["detail"]
    assert counts() == before
    anonymous = open_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/api/v1/me", headers=bearer).status_code == 401

    administrator = open_client()
    created = administrator.post(
        "/admin/api/tables/api_token/", json=row, headers=login(administrator, "root")
    )
    assert created.status_code in (200, 201), created.text
    assert run(ApiToken.count()) == before["api_token"] + 1
    assert anonymous.get("/api/v1/me", headers=bearer).json()["role"] == "admin"


async def _raw(sql: str) -> None:
    from piccolo.engine import engine_finder

    await engine_finder().run_ddl(sql)


def test_raw_sql_cannot_delete_a_donor_or_a_device(db: None) -> None:
    from inventory.tables import Device, Site

    donor_id = a_donor_with_history()
    device_id = run(Device.select(Device.id).first())["id"]
    site_id = run(Site.select(Site.id).first())["id"]
    before = counts()
    for sql in (
        f"DELETE FROM donor WHERE id = {donor_id}",
        f"DELETE FROM device WHERE id = {device_id}",
        f"DELETE FROM site WHERE id = {site_id}",
        "DELETE FROM donation",
    ):
        with pytest.raises(Exception, match="(?i)foreign key"):
            run(_raw(sql))
    assert counts() == before


def test_archiving_writes_an_event_and_leaves_the_forms(
    client: Any, tokens: dict[str, str]
) -> None:
    from inventory.tables import Event
    from loans import charter

    donor_id = a_donor_with_history()
    coordinator = {"Authorization": f"Bearer {tokens['coordinator']}"}
    technician = {"Authorization": f"Bearer {tokens['technician']}"}
    donor_name = client.get("/api/v1/donors", headers=coordinator).json()["items"][0]["name"]
    assert donor_name in client.get("/intake", headers=coordinator).text

    why = {"reason": "Le donateur a cessé son activité."}
    url = f"/api/v1/donors/{donor_id}/archive"
    assert client.post(url, json=why, headers=technician).status_code == 403
    before = counts()
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        assert client.post(url, json=body, headers=coordinator).status_code in (400, 422)
    assert counts() == before
    archived = client.post(url, json=why, headers=coordinator)
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived_at"]
    event = run(Event.select().where(Event.kind == "donor_archived").first())
    assert event["device"] is None and event["actor"] == "token:test-coordinator"
    payload = (
        event["payload"] if isinstance(event["payload"], dict) else json.loads(event["payload"])
    )
    assert payload == {"id": donor_id, "name": donor_name, "reason": why["reason"]}
    after = counts()
    assert after["event"] == before["event"] + 1
    assert {k: v for k, v in after.items() if k != "event"} == {
        k: v for k, v in before.items() if k != "event"
    }

    again = client.post(url, json=why, headers=coordinator)
    assert again.status_code == 409 and "déjà archivé" in again.json()["detail"]
    assert counts() == after
    listed = client.get("/api/v1/donors", headers=coordinator).json()
    assert listed["items"] == [] and listed["total"] == 0
    everyone = client.get("/api/v1/donors?include_archived=true", headers=coordinator).json()
    assert [d["id"] for d in everyone["items"]] == [donor_id]
    assert donor_name not in client.get("/intake", headers=coordinator).text
    # Reports and histories keep the donor.
    report = client.get(f"/api/v1/reports/donors/{donor_id}", headers=coordinator)
    assert report.status_code == 200 and donor_name in report.text

    site_id = client.get("/api/v1/sites", headers=coordinator).json()[0]["id"]
    assert (
        client.post(f"/api/v1/sites/{site_id}/archive", json=why, headers=coordinator).status_code
        == 200
    )
    assert client.get("/api/v1/sites", headers=coordinator).json() == []

    setup = run(loan_setup())
    programme_id = setup["programme"]["id"]
    archived_programme = client.post(
        f"/api/v1/programmes/{programme_id}/archive", json=why, headers=coordinator
    )
    assert archived_programme.status_code == 200
    assert client.get("/api/v1/programmes", headers=coordinator).json() == []
    organisation = client.post(
        "/api/v1/organisations",
        json={"name": "École Jean Macé", "kind": "school"},
        headers=coordinator,
    ).json()
    url = f"/api/v1/organisations/{organisation['id']}/archive"
    assert client.post(url, json=why, headers=coordinator).status_code == 200
    assert client.get("/api/v1/organisations", headers=coordinator).json() == []

    in_force = run(charter.in_force())
    refused = client.post(
        f"/api/v1/charters/{in_force['id']}/archive", json=why, headers=coordinator
    )
    assert refused.status_code == 409 and "en vigueur" in refused.json()["detail"]
    future = run(
        charter.create_version("Charte 2", "Texte.", date.today() + timedelta(days=30), "test")
    )
    withdrawn = client.post(
        f"/api/v1/charters/{future['id']}/archive", json=why, headers=coordinator
    )
    assert withdrawn.status_code == 200
    later = run(charter.in_force(date.today() + timedelta(days=60)))
    assert later["id"] == in_force["id"]  # a withdrawn version never comes into force

    kinds = [
        row["kind"] for row in run(Event.select(Event.kind).where(Event.kind.like("%_archived")))
    ]
    assert sorted(kinds) == sorted(
        [
            "donor_archived",
            "site_archived",
            "programme_archived",
            "organisation_archived",
            "charter_archived",
        ]
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REEMPLOI, *args], capture_output=True, text=True, env=os.environ.copy(), check=False
    )


def test_a_revoked_token_is_refused_at_once(client: Any) -> None:
    from inventory.tables import Event
    from web.tables import ApiToken

    created = cli("token", "create", "banc-2", "--role", "technician")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).json()["name"] == "banc-2"
    legacy = cli("token", "banc-3", "--role", "technician")  # the old spelling still creates
    assert legacy.returncode == 0 and legacy.stdout.startswith("rmp_"), legacy.stderr

    revoked = cli("token", "revoke", "banc-2")
    assert revoked.returncode == 0, revoked.stderr
    assert "banc-2" in revoked.stdout and "révoqué" in revoked.stdout
    refused = client.get("/api/v1/me", headers=bearer)
    assert refused.status_code == 401 and "révoqué" in refused.json()["detail"]
    other = {"Authorization": f"Bearer {legacy.stdout.strip()}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    row = run(ApiToken.select().where(ApiToken.name == "banc-2").first())
    assert row["revoked_at"] is not None  # kept, with its date: nothing is deleted
    assert run(Event.count().where(Event.kind == "token_revoked")) == 1

    twice = cli("token", "revoke", "banc-2")
    assert twice.returncode == 2 and "Aucun jeton actif" in twice.stderr
    by_id = run(ApiToken.select(ApiToken.id).where(ApiToken.name == "banc-3").first())["id"]
    assert cli("token", "revoke", str(by_id)).returncode == 0
    assert client.get("/api/v1/me", headers=other).status_code == 401


# Run in a child process against a database of its own, migrated to the first migrations only.
UPGRADE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os
    os.environ["PICCOLO_CONF"] = "web.piccolo_conf"
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.engine import engine_finder
    from piccolo.querystring import QueryString
    from web.database import migrate

    OLD = {
        "user": "all", "session_auth": "all",
        "inventory": "2026-11-23T11:35:49:256409",
        "provisioning": "2026-11-23T11:59:55:217543",
        "imaging": "2026-11-23T12:11:53:870117",
        "loans": "2026-11-23T12:06:05:605042",
        "web": "2026-11-23T11:35:49:878054",
    }
    ROWS = [
        "INSERT INTO site (id, name) VALUES (1, 'Atelier')",
        "INSERT INTO donor (id, name, kind) VALUES (1, 'Mairie', 'public_body')",
        "INSERT INTO donation (id, donor, site, received_on) VALUES (1, 1, 1, '2026-01-05')",
        "INSERT INTO device (id, asset_tag, donation, site) VALUES (1, 'RE-000001-X', 1, 1)",
        "INSERT INTO device (id, asset_tag, donation, site) VALUES (2, 'RE-000002-X', 1, 1)",
        "INSERT INTO disk (id, device, serial) VALUES (1, 1, 'S1')",
        "INSERT INTO event (id, device, actor, kind) VALUES (1, 1, 't', 'registered')",
        "INSERT INTO event (id, device, actor, kind) VALUES (2, 2, 't', 'registered')",
        "INSERT INTO sanitization_record (id, disk, device, donation, donor) "
        "VALUES (1, 1, 1, 1, 1)",
        "INSERT INTO deployment_job (id, device, target, image, profile) "
        "VALUES (1, 1, 'x', 'i', 'p')",
        "INSERT INTO organisation (id, name, kind) VALUES (1, 'École', 'school')",
        "INSERT INTO programme (id, name) VALUES (1, 'Programme')",
        "INSERT INTO borrower (id, code, kind, school) VALUES (1, 'F-1', 'household', 1)",
        "INSERT INTO borrower_contact (id, borrower, full_name) VALUES (1, 1, 'Camille')",
        "INSERT INTO charter (id, version, title, text, in_force_from) "
        "VALUES (1, 1, 'Charte', 'Texte', '2026-01-01')",
        "INSERT INTO loan (id, borrower, programme, charter) VALUES (1, 1, 1, 1)",
        "INSERT INTO loan_device (id, loan, device) VALUES (1, 1, 2)",
        "INSERT INTO signature (id, loan, method) VALUES (1, 1, 'drawn')",
        "INSERT INTO mediation_session (id, loan, borrower, programme) VALUES (1, 1, 1, 1)",
        "INSERT INTO session_attendee (id, session, borrower) VALUES (1, 1, 1)",
    ]
    TABLES = [r.split()[2] for r in ROWS]
    DELETES = ["donor", "site", "device", "disk", "organisation", "programme", "charter",
               "borrower", "loan", "mediation_session"]

    async def main():
        for app, migration_id in OLD.items():
            result = await run_forwards(app, migration_id=migration_id)
            assert result.success, result.message
        engine = engine_finder()
        for sql in ROWS:
            await engine.run_ddl(sql)
        async def count(table):
            rows = await engine.run_querystring(QueryString(f"SELECT COUNT(*) AS n FROM {table}"))
            return int(rows[0]["n"])
        before = {t: await count(t) for t in TABLES}
        await migrate()
        after = {t: await count(t) for t in TABLES}
        refused = {}
        for table in DELETES:
            try:
                await engine.run_ddl(f"DELETE FROM {table}")
                refused[table] = False
            except Exception as error:
                refused[table] = "foreign key" in str(error).lower()
        archived = await engine.run_querystring(QueryString("SELECT archived_at FROM donor"))
        print(json.dumps({"before": before, "after": after, "refused": refused,
                          "archived_at": [r["archived_at"] for r in archived],
                          "final": {t: await count(t) for t in TABLES}}))

    asyncio.run(main())
    """
)


@contextlib.contextmanager
def fresh_database(engine_name: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables naming an empty database on the engine under test."""
    env = {**os.environ, "REEMPLOI_DATA_DIR": str(tmp_path)}
    if engine_name == "sqlite":
        env.pop("REEMPLOI_DATABASE_URL", None)
        yield env
        return
    import asyncpg

    url = os.environ["REEMPLOI_DATABASE_URL"]
    name = f"upgrade_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    run(admin(f'CREATE DATABASE "{name}"'))
    try:
        env["REEMPLOI_DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{name}"
        yield env
    finally:
        run(admin(f'DROP DATABASE "{name}"'))


def test_upgrading_keeps_every_row_and_restricts_deletes(engine_name: str, tmp_path: Path) -> None:
    with fresh_database(engine_name, tmp_path) as env:
        result = subprocess.run(
            [sys.executable, "-c", UPGRADE_SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).parent.parent,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["before"] == report["after"] == report["final"]
    assert all(n >= 1 for n in report["before"].values())
    assert report["refused"] == {table: True for table in report["refused"]}
    assert report["archived_at"] == [None]


def test_archived_reference_data_takes_no_new_work(client: Any, tokens: dict[str, str]) -> None:
    """Archiving hides a donor, a site or a programme from the forms, and the services refuse it."""
    from inventory.tables import Site

    donor_id = a_donor_with_history()
    site_id = run(Site.select(Site.id).first())["id"]
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    coordinator = {"Authorization": f"Bearer {tokens['coordinator']}"}
    mediator = {"Authorization": f"Bearer {tokens['mediator']}"}
    why = {"reason": "Fin du partenariat."}
    lot = {
        "donor_id": donor_id,
        "site_id": site_id,
        "received_on": date.today().isoformat(),
        "device_count": 1,
    }
    for kind, ident in (("donors", donor_id), ("sites", site_id)):
        archive = client.post(f"/api/v1/{kind}/{ident}/archive", json=why, headers=coordinator)
        assert archive.status_code == 200, archive.text
        before = counts()
        refused = client.post("/api/v1/donations", json=lot, headers=coordinator)
        assert refused.status_code == 422 and "archivé" in refused.json()["detail"]
        assert counts() == before
    programme_id = setup["programme"]["id"]
    client.post(f"/api/v1/programmes/{programme_id}/archive", json=why, headers=coordinator)
    before = counts()
    loan = {
        "borrower_id": setup["borrower"]["id"],
        "programme_id": programme_id,
        "tags": [tag],
        "signature": {
            "method": "drawn",
            "image_base64": base64.b64encode(signature_png()).decode(),
            "signer_name": "Camille Durand",
            "signer_role": "self",
        },
    }
    refused = client.post("/api/v1/loans", json=loan, headers=mediator)
    assert refused.status_code == 422 and "programme" in refused.json()["detail"]
    assert counts() == before
