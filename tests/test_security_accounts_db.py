"""Accounts and data at rest (issue 13): hashed session tokens, login throttling, private files.

Through HTTP (in-process for the login rules, the real `reemploi serve` for files and latency)
and through the `reemploi` command line (unlock, backup, migrate).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sqlite3
import stat
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import running_server
from tests.support import run

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parent.parent
REEMPLOI = str(Path(sys.executable).parent / "reemploi")
PASSWORD = "un mot de passe assez long"
WRONG = "ce n'est pas le bon"
LOCKED_WORDS = "Ce compte est verrouillé après 10 échecs de connexion"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REEMPLOI, *args], capture_output=True, text=True, env=env or dict(os.environ), cwd=ROOT
    )


def post_login(client: Any, username: str, password: str) -> Any:
    if "reemploi_csrf" not in client.cookies:
        client.get("/login")
    form = {
        "username": username,
        "password": password,
        "_csrf_token": client.cookies["reemploi_csrf"],
    }
    return client.post("/login", data=form, follow_redirects=False)


def let_time_pass(seconds: float) -> None:
    """Move every recorded failure back in time, as if the person had waited."""
    from web.tables import LoginFailure

    async def shift() -> None:
        for row in await LoginFailure.select(LoginFailure.id, LoginFailure.at):
            await LoginFailure.update(
                {LoginFailure.at: row["at"] - timedelta(seconds=seconds)}
            ).where(LoginFailure.id == row["id"])

    run(shift())


def failures() -> list[dict[str, Any]]:
    from web.tables import LoginFailure

    return run(LoginFailure.select(LoginFailure.username, LoginFailure.address))


# --- Session tokens ------------------------------------------------------------------------


def test_a_session_token_read_from_the_database_opens_nothing(client: Any) -> None:
    from litestar.testing import TestClient
    from piccolo_api.session_auth.tables import SessionsBase

    from web.accounts import create_user
    from web.app import create_app

    run(create_user("root", PASSWORD, "admin"))
    assert post_login(client, "root", PASSWORD).status_code == 303
    token = client.cookies["reemploi_session"]
    stored = [row["token"] for row in run(SessionsBase.select(SessionsBase.token))]
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    # piccolo-admin finds the same session from its own cookie (the clear token).
    assert client.get("/admin/api/tables/site/").status_code == 200
    assert client.get("/admin/api/user/").json()["username"] == "root"

    with TestClient(create_app(), base_url="http://testserver.local") as thief:
        thief.cookies.set("reemploi_session", stored[0])
        thief.cookies.set("id", stored[0])
        assert thief.get("/admin/api/tables/site/", follow_redirects=False).status_code == 401
        page = thief.get("/", follow_redirects=False)
        assert page.status_code in (302, 303) and page.headers["location"].startswith("/login")
        assert thief.get("/api/v1/devices").status_code == 401

    csrf = client.cookies["reemploi_csrf"]
    out = client.post("/logout", headers={"x-csrftoken": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert run(SessionsBase.count()) == 0
    with TestClient(create_app(), base_url="http://testserver.local") as replay:
        replay.cookies.set("reemploi_session", token)
        assert replay.get("/api/v1/devices").status_code == 401


def test_piccolo_admin_own_login_form_is_refused(client: Any) -> None:
    from web.accounts import create_user

    run(create_user("root", PASSWORD, "admin"))
    assert post_login(client, "root", PASSWORD).status_code == 303
    client.get("/admin/")
    answer = client.post(
        "/admin/public/login/",
        json={"username": "root", "password": PASSWORD},
        headers={"X-CSRFToken": client.cookies["csrftoken"]},
    )
    # It would go around the throttling of failed logins: only /login opens sessions.
    assert answer.status_code == 403 and "Connectez-vous par la page /login" in answer.text


def test_sessions_opened_before_the_upgrade_are_hashed_by_the_migration(db: None) -> None:
    from piccolo_api.session_auth.tables import SessionsBase

    from web import accounts
    from web.accounts import create_user

    user_id = run(create_user("ancien", PASSWORD, "coordinator"))
    old_token = "un-jeton-en-clair-d-avant-la-mise-a-jour-abc"
    run(SessionsBase.create_session(user_id=user_id))  # piccolo's own: stored in clear
    run(SessionsBase.insert(SessionsBase(token=old_token, user_id=user_id)))
    migration = importlib.import_module("web.piccolo_migrations.web_2026_11_30t09_56_48_284120")
    run(migration.hash_clear_session_tokens())
    tokens = {row["token"] for row in run(SessionsBase.select(SessionsBase.token))}
    assert old_token not in tokens
    assert all(len(t) == 64 for t in tokens)
    assert run(accounts.session_principal(old_token)).name == "ancien"
    assert run(accounts.session_principal(accounts.session_digest(old_token))) is None


# --- Throttling ------------------------------------------------------------------------------


def test_ten_failures_lock_the_account_until_an_admin_unlocks_it(client: Any) -> None:
    from web import accounts
    from web.accounts import create_user

    run(create_user("nadia", PASSWORD, "mediator"))
    delays = [accounts.delay_after(n) for n in range(1, 10)]
    assert delays[:3] == [timedelta(0)] * 3 and all(a < b for a, b in pairwise(delays[2:]))
    for attempt in range(1, 11):
        page = post_login(client, "nadia", WRONG)
        assert page.status_code == 200 and "Identifiant ou mot de passe incorrect" in page.text
        if attempt in (4, 7):
            # The delay grows: right after this failure even the right password must wait.
            too_soon = post_login(client, "nadia", PASSWORD)
            assert too_soon.status_code == 429 and "patientez quelques secondes" in too_soon.text
            assert int(too_soon.headers["retry-after"]) >= accounts.delay_after(attempt).seconds
            assert len(failures()) == attempt  # a refused attempt is not counted
        let_time_pass(accounts.delay_after(attempt).total_seconds() + 1)
    locked = post_login(client, "nadia", PASSWORD)
    assert locked.status_code == 429 and LOCKED_WORDS in locked.text
    assert "reemploi_session" not in client.cookies
    # The lock holds through time passing within the hour, and for the right password.
    let_time_pass(600)
    assert LOCKED_WORDS in post_login(client, "nadia", PASSWORD).text

    unlocked = cli("unlock", "nadia")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "Le compte « nadia » est déverrouillé (10 échec(s)" in unlocked.stdout
    assert post_login(client, "nadia", PASSWORD).status_code == 303
    assert failures() == []


def test_failures_from_one_address_stop_every_account_from_it(client: Any) -> None:
    from web import accounts
    from web.accounts import create_user

    run(create_user("samir", PASSWORD, "technician"))
    for i in range(accounts.ADDRESS_LOCK):
        page = post_login(client, f"inconnu-{i}", WRONG)
        assert page.status_code == 200, i
    address = failures()[0]["address"]
    assert address and {row["address"] for row in failures()} == {address}
    refused = post_login(client, "samir", PASSWORD)
    assert refused.status_code == 429 and "depuis votre adresse" in refused.text
    # Unlocking the account is not enough: the address is what is stopped.
    assert cli("unlock", "samir").returncode == 0
    assert post_login(client, "samir", PASSWORD).status_code == 429
    unlocked = cli("unlock", "--address", address)
    assert unlocked.returncode == 0 and "est déverrouillée" in unlocked.stdout
    assert post_login(client, "samir", PASSWORD).status_code == 303


def test_unlock_without_a_name_is_refused_with_a_sentence(db: None) -> None:
    answer = cli("unlock")
    assert answer.returncode == 2 and "Nommez un compte ou une adresse" in answer.stderr


# --- The real server: files at rest and latency under logins ---------------------------------

SETUP = textwrap.dedent(
    """
    import asyncio, json, sys
    from tests.support import loan_setup, new_donation, ready_devices

    async def main():
        from inventory import devices
        from provisioning import records
        from provisioning.tables import MethodType, Status
        from web.accounts import create_token, create_user

        for i in range(4):
            await create_user(f"personne{i}", sys.argv[1], "mediator")
        (tag,) = await ready_devices(1)
        ids = await loan_setup()
        (wiped,) = await new_donation(1)
        await devices.apply_transition(wiped, "triage", "test")
        media = records.Media(
            model="ST500LM021", serial="W62Z1A2B", size_bytes=64 << 20, manufacturer="Seagate",
            media_type="Disque dur (HDD)", transport="sata", rotational=True,
            hidden_areas="pas de HPA, pas de DCO",
        )
        runner = records.Runner(operator="Camille Martin", station="banc-1")
        started = await records.start(
            media, runner, method_type=MethodType.clear, verification_method="full", tag=wiped
        )
        outcome = records.Outcome(
            status=Status.passed, method_type=MethodType.clear, method="overwrite",
            method_details="1 passe de zéros", tool="Réemploi effaceur 1.0",
            verification_method="full", verification_result="passed",
            verified_bytes=64 << 20, bytes_written=64 << 20,
        )
        record = await records.finish(started["id"], outcome, runner.operator)
        print(json.dumps({
            "tag": tag,
            "borrower": ids["borrower"]["id"],
            "programme": ids["programme"]["id"],
            "certificate": record["certificate_id"],
            "mediator": await create_token("mediation", "mediator"),
            "technician": await create_token("banc", "technician"),
        }))

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh data directory (SQLite), migrated by the CLI, with people, devices and a wipe."""
    data_dir = tmp_path_factory.mktemp("installation") / "var"
    env = {**os.environ, "REEMPLOI_DATA_DIR": str(data_dir), "REEMPLOI_DB_POOL": "1"}
    env.pop("REEMPLOI_DATABASE_URL", None)
    migrated = cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    # Written by a plain Python process (umask 022): modes must not depend on the CLI's umask.
    setup = subprocess.run(
        [sys.executable, "-c", SETUP, PASSWORD], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr
    return {"env": env, "data_dir": data_dir, **json.loads(setup.stdout.splitlines()[-1])}


def modes(root: Path) -> dict[Path, int]:
    found = {root: stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_every_folder_is_0700_and_every_file_0600(
    installation: dict[str, Any], tmp_path: Path
) -> None:
    from tests.test_loans_api_db import signature

    env, data_dir = installation["env"], installation["data_dir"]
    with running_server(1, log=tmp_path / "serve.log", env=env) as url:
        mediator = {"Authorization": f"Bearer {installation['mediator']}"}
        loan = httpx.post(
            f"{url}/api/v1/loans",
            json={
                "borrower_id": installation["borrower"],
                "programme_id": installation["programme"],
                "tags": [installation["tag"]],
                "signature": signature("Camille Durand"),
            },
            headers=mediator,
            timeout=60,
        )
        assert loan.status_code == 201, loan.text
        technician = {"Authorization": f"Bearer {installation['technician']}"}
        pdf = httpx.get(
            f"{url}/verify/{installation['certificate']}/pdf", headers=technician, timeout=60
        )
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        backup = tmp_path / "sauvegarde.sqlite"
        saved = cli("backup", str(backup), env=env)
        assert saved.returncode == 0, saved.stderr
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600

        # SQLite removes -wal and -shm when its last connection closes: hold one open, from
        # this process whose umask is 022; SQLite gives them the database file's mode.
        with contextlib.closing(sqlite3.connect(data_dir / "reemploi.sqlite")) as reader:
            assert reader.execute("SELECT count(*) FROM loan").fetchone() == (1,)
            found = modes(data_dir)
        names = {path.name for path in found}
        assert {"reemploi.sqlite", "reemploi.sqlite-wal", "reemploi.sqlite-shm"} <= names
        documents = [p for p in found if p.parent == data_dir / "documents"]
        assert len(documents) >= 3  # charter PDF, signature image, wipe certificate
        assert any(p.suffix == ".pdf" for p in documents)
        assert [p for p in found if p.parent == data_dir / "keys"]
        loose = {
            str(path): oct(mode)
            for path, mode in found.items()
            if mode != (0o700 if path.is_dir() else 0o600)
        }
        assert loose == {}

    # Someone loosens one document: the next start names it, and still starts.
    loosened = next(p for p in documents if p.suffix == ".pdf")
    loosened.chmod(0o644)
    log = tmp_path / "restart.log"
    with running_server(1, log=log, env=env) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
    warning = log.read_text()
    assert f"Attention : {loosened} est en mode 0644" in warning
    assert f"chmod 600 {loosened}" in warning
    assert str(documents[0]) not in warning or documents[0] == loosened

    # `reemploi migrate` (the upgrade step) makes it private again and says so.
    migrated = cli("migrate", env=env)
    assert migrated.returncode == 0 and f"Droits resserrés : {loosened}" in migrated.stderr
    assert stat.S_IMODE(loosened.stat().st_mode) == 0o600


def login_over_http(url: str, username: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as browser:
        browser.get("/login")
        form = {
            "username": username,
            "password": PASSWORD,
            "_csrf_token": browser.cookies["reemploi_csrf"],
        }
        assert browser.post("/login", data=form).status_code == 303


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def test_healthz_keeps_answering_while_four_people_log_in(
    installation: dict[str, Any], tmp_path: Path
) -> None:
    with (
        running_server(1, log=tmp_path / "serve.log", env=installation["env"]) as url,
        httpx.Client() as probe,
    ):

        def healthz_for(seconds: float) -> list[float]:
            samples = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                start = time.perf_counter()
                assert probe.get(f"{url}/healthz").status_code == 200
                samples.append((time.perf_counter() - start) * 1000)
                time.sleep(0.01)
            return samples

        healthz_for(0.5)  # warm-up
        idle = healthz_for(3)
        stop = threading.Event()
        logins = [0] * 4
        errors: list[BaseException] = []

        def log_in_again_and_again(i: int) -> None:
            try:
                while not stop.is_set():
                    login_over_http(url, f"personne{i}")
                    logins[i] += 1
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=log_in_again_and_again, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        loaded = healthz_for(8)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert min(logins) >= 2, logins
    print(
        f"\n/healthz p99: idle {p99(idle):.1f} ms, during {sum(logins)} logins "
        f"by 4 clients {p99(loaded):.1f} ms ({len(loaded)} samples)"
    )
    assert p99(loaded) < 300
