"""Web hardening (issue 13): cross-origin writes refused, security headers, `no-store` on
personal documents, no secret in the access log, reminder mail over TLS with a login."""

from __future__ import annotations

import datetime
import email
import email.policy
import html
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paramiko
import pytest

from loans import checkout, reminders
from provisioning.imaging.tables import HostKey
from tests.browser import PASSWORD, login
from tests.rowcounts import table_counts
from tests.server import free_port, running_server
from tests.support import loan_setup, new_donation, ready_devices, run, signature_png
from web.accounts import create_user

pytestmark = pytest.mark.db

HOST_KEYS = "/api/v1/imaging/host-keys"


def key_line() -> str:
    key = paramiko.ECDSAKey.generate()
    return f"{key.get_name()} {key.get_base64()} live@atelier"


def host_key(host: str) -> dict[str, str]:
    return {"host": host, "public_key": key_line(), "label": "clé USB"}


def log_in(client: Any, username: str) -> str:
    """Open a session through /login as a browser does; return the CSRF cookie's value."""
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf


def test_cookie_writes_to_the_api_need_json_and_a_token(
    client: Any, tokens: dict[str, str]
) -> None:
    run(create_user("coordination", PASSWORD, "coordinator"))
    csrf = log_in(client, "coordination")
    before = run(table_counts())
    forged = json.dumps(host_key("*"))
    json_type = {"content-type": "application/json"}

    plain = client.post(HOST_KEYS, content=forged, headers={"content-type": "text/plain"})
    assert plain.status_code == 403
    assert "n'accepte" in plain.json()["detail"] and "application/json" in plain.json()["detail"]
    no_token = client.post(HOST_KEYS, content=forged, headers=json_type)
    assert no_token.status_code == 403 and "x-csrftoken" in no_token.json()["detail"]
    wrong = client.post(HOST_KEYS, content=forged, headers={**json_type, "x-csrftoken": "0" * 128})
    assert wrong.status_code == 403
    foreign = client.post(
        HOST_KEYS,
        content=forged,
        headers={**json_type, "x-csrftoken": csrf, "origin": "http://testserver.local:8081"},
    )
    assert foreign.status_code == 403 and "autre origine" in foreign.json()["detail"]
    sibling = client.post(
        HOST_KEYS,
        content=forged,
        headers={**json_type, "x-csrftoken": csrf, "sec-fetch-site": "same-site"},
    )
    assert sibling.status_code == 403
    untyped = client.post(HOST_KEYS, content=forged, headers={"x-csrftoken": csrf})
    assert untyped.status_code == 403
    assert run(table_counts()) == before

    with_token = client.post(HOST_KEYS, json=host_key("10.0.0.1"), headers={"x-csrftoken": csrf})
    assert with_token.status_code == 201, with_token.text
    same_origin = client.post(
        HOST_KEYS, json=host_key("10.0.0.2"), headers={"origin": "http://testserver.local"}
    )
    assert same_origin.status_code == 201, same_origin.text
    fetch_metadata = client.post(
        HOST_KEYS, json=host_key("10.0.0.3"), headers={"sec-fetch-site": "same-origin"}
    )
    assert fetch_metadata.status_code == 201, fetch_metadata.text

    # A script with a bearer token is not concerned, whatever the body's declared type: the very
    # body the forged form sends is a valid request, so only the origin rule stops the form.
    bearer = {"Authorization": f"Bearer {tokens['coordinator']}"}
    made = client.post(HOST_KEYS, content=forged, headers={**bearer, "content-type": "text/plain"})
    assert made.status_code == 201, made.text
    assert made.json()["host"] == "*"
    pinned = client.get(HOST_KEYS).json()
    assert sorted(p["host"] for p in pinned) == ["*", "10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_a_page_form_posted_from_another_origin_is_refused(client: Any) -> None:
    """The CSRF cookie is readable from another port of the host: the token alone is no proof."""
    run(create_user("coordination", PASSWORD, "coordinator"))
    csrf = log_in(client, "coordination")
    before = run(table_counts())
    form = {"host": "*", "public_key": key_line(), "label": "x", "_csrf_token": csrf}
    stolen = client.post(
        "/imaging/host-keys",
        data=form,
        headers={"origin": "http://testserver.local:8081"},
        follow_redirects=False,
    )
    assert stolen.status_code == 403 and "autre origine" in stolen.text
    assert run(table_counts()) == before
    own = client.post(
        "/imaging/host-keys",
        data=form,
        headers={"origin": "http://testserver.local"},
        follow_redirects=False,
    )
    # The same form from the page's own origin reaches the handler, which judges its fields.
    assert own.status_code == 422 and "autre origine" not in own.text, own.text
    assert 'id="fingerprint"' in own.text and 'aria-invalid="true"' in own.text


def test_admin_writes_need_its_header(client: Any) -> None:
    run(create_user("administration", PASSWORD, "admin"))
    log_in(client, "administration")
    assert client.get("/admin/").status_code == 200
    admin_csrf = client.cookies.get("csrftoken")
    before = run(table_counts())
    site = {"name": "Site forgé", "address": "", "phone": ""}
    bare = client.post("/admin/api/tables/site/", json=site)
    assert bare.status_code == 403 and "X-CSRFToken" in bare.json()["detail"]
    # piccolo-admin also takes its token as a form field, which a page elsewhere can read.
    as_form = client.post("/admin/api/tables/site/", data={**site, "csrftoken": admin_csrf})
    assert as_form.status_code == 403 and "X-CSRFToken" in as_form.json()["detail"]
    foreign = client.post(
        "/admin/api/tables/site/",
        json=site,
        headers={"X-CSRFToken": admin_csrf, "origin": "http://testserver.local:8081"},
    )
    assert foreign.status_code == 403 and "autre origine" in foreign.json()["detail"]
    assert run(table_counts()) == before
    made = client.post("/admin/api/tables/site/", json=site, headers={"X-CSRFToken": admin_csrf})
    assert made.status_code in (200, 201), made.text


PAGE_POLICY = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'")


def assert_hardened(answer: Any, what: str) -> None:
    headers = answer.headers
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("referrer-policy") == "same-origin", what
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, what
    assert "unsafe-eval" not in policy and "http" not in policy, (what, policy)


def test_security_headers_on_every_response(client: Any) -> None:
    run(create_user("coordination", PASSWORD, "coordinator"))
    (tag,) = run(ready_devices(1))
    anonymous = client.get("/login")
    assert_hardened(anonymous, "/login")
    log_in(client, "coordination")
    for path in ("/", "/scan", f"/d/{tag}", "/loans/new", "/imaging", "/d/RE-999999-9"):
        answer = client.get(path)
        assert_hardened(answer, path)
        policy = answer.headers["content-security-policy"]
        assert all(part in policy for part in PAGE_POLICY), (path, policy)
        assert "'unsafe-inline'" not in policy, path
        assert answer.headers["cache-control"] == "no-store", path
        # No inline script nor style for the policy to block (JSON data blocks are not run).
        text = answer.text
        assert "style=" not in text and "<style" not in text, path
        assert text.count("<script") == text.count("<script src=") + text.count(
            '<script type="application/json"'
        ), path
    for path in ("/api/v1/me", "/api/v1/nothing-here", "/healthz"):
        answer = client.get(path)
        assert_hardened(answer, path)
        assert answer.headers["content-security-policy"].startswith("default-src 'none'"), path
    refused = client.post("/api/v1/sites", content="{}", headers={"content-type": "text/plain"})
    assert refused.status_code == 403
    assert_hardened(refused, "a refusal")
    static = client.get("/static/scan.js")
    assert_hardened(static, "/static")
    assert "no-store" not in static.headers.get("cache-control", "")
    run(create_user("administration", PASSWORD, "admin"))
    log_in(client, "administration")  # /admin is for administrators only
    admin = client.get("/admin/")
    assert admin.status_code == 200
    assert_hardened(admin, "/admin/")
    assert "script-src 'self';" in admin.headers["content-security-policy"]


def lend() -> dict[str, Any]:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    loan = run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag], setup["programme"]["id"]),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            "mediatrice",
        )
    )
    return {**setup, "loan": loan, "tag": tag}


def test_personal_documents_are_not_stored_by_the_browser(client: Any) -> None:
    from inventory import devices
    from inventory.tables import Device, Donation
    from tests.test_certificates_db import passed_record

    run(create_user("coordination", PASSWORD, "coordinator"))
    lent = lend()
    (wiped,) = run(new_donation(1))
    run(devices.apply_transition(wiped, "triage", "test"))
    record = passed_record(wiped)
    donation_id = run(Device.select(Device.donation).where(Device.asset_tag == wiped).first())
    donation = run(
        Donation.select(Donation.id, Donation.donor)
        .where(Donation.id == donation_id["donation"])
        .first()
    )
    log_in(client, "coordination")
    today = datetime.date.today()
    span = f"from={today.replace(month=1, day=1)}&to={today}"
    loan_id, borrower_id = lent["loan"]["id"], lent["borrower"]["id"]
    documents = {
        "charter PDF (page)": f"/loans/{loan_id}/charter.pdf",
        "charter PDF (API)": f"/api/v1/loans/{loan_id}/charter.pdf",
        "borrower export": f"/api/v1/borrowers/{borrower_id}/export",
        "borrower export PDF": f"/api/v1/borrowers/{borrower_id}/export.pdf",
        "funder report CSV": f"/api/v1/reports/funder?{span}&format=csv",
        "funder report XLSX": f"/api/v1/reports/funder?{span}&format=xlsx",
        "funder report PDF": f"/reports/funder?{span}&format=pdf",
        "funder report HTML file": f"/api/v1/reports/funder?{span}&format=html",
        "donor report PDF": f"/reports/donors/{donation['donor']}?format=pdf",
        "donor certificates": f"/reports/donors/{donation['donor']}/certificates",
        "disk certificate PDF": f"/verify/{record['certificate_id']}/pdf",
        "donation certificate": f"/donations/{donation['id']}/certificate",
    }
    for what, path in documents.items():
        answer = client.get(path)
        assert answer.status_code == 200, (what, answer.status_code, answer.text[:300])
        assert answer.headers.get("cache-control") == "no-store", what
        assert_hardened(answer, what)
        if "pdf" not in answer.headers["content-type"]:
            # Nothing downloaded runs a script, even opened in the browser.
            policy = answer.headers["content-security-policy"]
            assert policy.startswith("default-src 'none'") and "script-src" not in policy, what


# --- in Chromium, from a page on another port of the same host --------------------------------


class Pages(BaseHTTPRequestHandler):
    """The attacker's little site: serves the pages of `self.server.pages`."""

    def do_GET(self) -> None:
        body = self.server.pages.get(self.path, "").encode()  # type: ignore[attr-defined]
        self.send_response(200 if body else 404)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, dict[str, str]]]:
    """A second HTTP server on another port of 127.0.0.1 and its pages (path: HTML)."""
    site = ThreadingHTTPServer(("127.0.0.1", free_port()), Pages)
    site.pages = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}", site.pages  # type: ignore[attr-defined]
    site.shutdown()
    site.server_close()


def text_plain_json_form(action: str, body: dict[str, str]) -> str:
    """A form whose text/plain encoding (`name=value`) is the JSON document `body`."""
    document = json.dumps(body)
    name, value = document[:-2], document[-2:]  # the '=' lands inside the last string value
    return (
        f'<!doctype html><form id="f" enctype="text/plain" method="post" action="{action}">'
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )


def stolen_token_form(action: str, fields: dict[str, str], field: str, cookie: str = "") -> str:
    """A form that copies the CSRF cookie (readable from any port of the host) into `field`."""
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    pattern = f"{cookie or field}=([^;]+)"
    return (
        f'<!doctype html><form id="f" method="post" action="{action}">{inputs}'
        f'<input type="hidden" name="{field}" id="t"></form><script>'
        f"const m = document.cookie.match(/{pattern}/);"
        'document.getElementById("t").value = m ? m[1] : "";'
        'document.getElementById("f").submit()</script>'
    )


@pytest.fixture
def admin_page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """An administrator: the one role that opens both the workshop's pages and /admin."""
    run(create_user("coordination", PASSWORD, "admin"))
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    login(page, server, "coordination")
    yield page
    context.close()


def test_a_text_plain_form_from_another_port_writes_nothing(
    admin_page: Any, server: str, elsewhere: tuple[str, dict[str, str]]
) -> None:
    page = admin_page
    origin, pages = elsewhere
    pages["/pin.html"] = text_plain_json_form(
        server + HOST_KEYS, {"host": "*", "public_key": key_line(), "label": "x"}
    )
    # piccolo-admin also takes its token from a form field: read from the cookie, it goes along.
    page.goto(server + "/admin/")
    pages["/admin.html"] = stolen_token_form(
        server + "/admin/api/tables/site/", {"name": "Site forgé", "address": "x"}, "csrftoken"
    )
    pages["/read.html"] = "<!doctype html><title>ailleurs</title>"
    pages["/page-form.html"] = stolen_token_form(
        server + "/imaging/host-keys",
        {"host": "*", "public_key": key_line(), "label": "x"},
        "_csrf_token",
        cookie="reemploi_csrf",
    )
    before = run(table_counts())

    for attack, target in (
        ("/pin.html", server + HOST_KEYS),
        ("/admin.html", server + "/admin/api/tables/site/"),
        ("/page-form.html", server + "/imaging/host-keys"),
    ):
        with page.expect_response(lambda r, t=target: r.url == t) as answer:
            page.goto(origin + attack)
        assert answer.value.status == 403, (attack, answer.value.status, answer.value.text())
        assert answer.value.request.all_headers().get("origin") == origin
    # The refusal's page may still be rendering when its response has arrived: wait for it.
    page.locator("body", has_text="Écriture refusée").wait_for()
    assert run(table_counts()) == before
    # Why the form token is no proof here: cookies are not isolated by port.
    page.goto(origin + "/read.html")
    readable = page.evaluate("document.cookie")
    assert "reemploi_csrf=" in readable and "csrftoken=" in readable
    assert "reemploi_session=" not in readable  # HttpOnly

    # The workshop's own page, with the header the API asks of a browser session, still writes.
    page.goto(server + "/imaging")
    status = page.evaluate(
        """async ([url, body]) => {
            const csrf = document.cookie.match(/reemploi_csrf=([^;]+)/)[1];
            const answer = await fetch(url, {
                method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                headers: {"content-type": "application/json", "x-csrftoken": csrf},
            });
            return answer.status;
        }""",
        [HOST_KEYS, {"host": "10.0.0.9", "public_key": key_line(), "label": "légitime"}],
    )
    assert status == 201
    after = run(table_counts())
    key_table = HostKey._meta.tablename
    assert after[key_table] == before[key_table] + 1


def csp_complaints(page: Any) -> list[str]:
    complaints: list[str] = []
    page.on(
        "console",
        lambda m: (
            complaints.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: complaints.append(f"pageerror: {e}"))
    return complaints


def test_the_pages_live_with_their_policy(admin_page: Any, server: str) -> None:
    page = admin_page
    (tag,) = run(ready_devices(1))
    run(loan_setup())
    complaints = csp_complaints(page)
    for path in ("/", f"/d/{tag}", "/loans/new", "/imaging", "/labels"):
        answer = page.goto(server + path)
        assert answer.ok and "frame-ancestors" in answer.headers["content-security-policy"]
        page.wait_for_load_state("load")
    page.goto(server + "/scan")
    page.fill("#code", tag)
    page.press("#code", "Enter")
    page.wait_for_selector("#results li.row.ok")
    assert tag in page.inner_text("#results")
    answer = page.goto(server + "/admin/")
    assert answer.ok
    page.wait_for_selector("text=Référentiel", timeout=20_000)
    page.wait_for_load_state("networkidle")
    assert not complaints, complaints
    # The watcher does hear a violation: an image from elsewhere is refused on our pages.
    page.goto(server + "/scan")
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=\"http://192.0.2.1/x.png\">')"
    )
    page.wait_for_timeout(300)
    assert any("img-src" in c or "default-src" in c for c in complaints), complaints


# --- the access log ------------------------------------------------------------------------------


def test_the_access_log_keeps_no_signing_token_nor_search_term(
    tokens: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with running_server(1, log=log) as url:
        bearer = {"Authorization": f"Bearer {tokens['mediator']}"}
        httpx.get(f"{url}/sign/jeton-de-signature-secret")
        httpx.post(f"{url}/sign/jeton-de-signature-secret/x", data={"a": "b"})
        found = httpx.get(
            f"{url}/api/v1/devices",
            params={"q": "Durand 06 12 34 56 78", "limit": 5},
            headers=bearer,
        )
        assert found.status_code == 200
        httpx.get(f"{url}/devices", params={"q": "camille.durand@example.org"})
    text = log.read_text()
    secrets = ("jeton-de-signature-secret", "Durand", "34+56", "34%2056", "camille", "example.org")
    for secret in secrets:
        assert secret not in text, secret
    # The lines are still there, redacted.
    assert '"GET /sign/… HTTP/1.1" ' in text
    assert "GET /api/v1/devices?q=…&limit=5 HTTP/1.1" in text
    assert "GET /devices?q=… HTTP/1.1" in text


# --- reminder mail over TLS ---------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (the client is told to trust it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.atelier.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Mailbox:
    """aiosmtpd handler: keeps each message with whether it came over TLS and who logged in."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            {
                "tls": session.ssl is not None,
                "login": session.auth_data if session.authenticated else None,
                "content": envelope.content,
            }
        )
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"atelier",
        b"mot de passe smtp",
    )
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


@pytest.fixture
def smtp_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server that requires STARTTLS before anything, and a login."""
    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    monkeypatch.setenv("REEMPLOI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("REEMPLOI_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("REEMPLOI_SMTP_CA_FILE", str(cert))
    monkeypatch.setenv("REEMPLOI_REMINDER_TO", "coordination@atelier.test")
    monkeypatch.setenv("REEMPLOI_SMTP_USER", "atelier")
    monkeypatch.setenv("REEMPLOI_SMTP_PASSWORD", "mot de passe smtp")
    monkeypatch.delenv("REEMPLOI_SMTP_SECURITY", raising=False)
    yield mailbox
    controller.stop()


def overdue_digest() -> reminders.Digest:
    from loans.tables import Loan

    lent = lend()
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    run(Loan.update({Loan.due_on: yesterday}).where(Loan.id == lent["loan"]["id"]))
    digest = run(reminders.digest(datetime.date.today()))
    assert not digest.empty
    return digest


def test_reminders_go_over_starttls_with_a_login(db: None, smtp_tls: Mailbox) -> None:
    digest = overdue_digest()
    assert reminders.send(digest) is True
    (mail,) = smtp_tls.received
    assert mail["tls"] is True
    assert mail["login"] == b"atelier"
    message = email.message_from_bytes(mail["content"], policy=email.policy.default)
    assert "Prêts en retard : 1" in message.get_body().get_content()


def test_plain_smtp_is_refused_where_starttls_is_required(
    db: None, smtp_tls: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inventory.errors import Invalid

    digest = overdue_digest()
    # In clear to this machine is allowed by the settings, but this server demands STARTTLS.
    monkeypatch.setenv("REEMPLOI_SMTP_SECURITY", "none")
    with pytest.raises(Invalid, match="Envoi des rappels impossible"):
        reminders.send(digest)
    # A wrong password: refused by the server, said in a sentence.
    monkeypatch.setenv("REEMPLOI_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("REEMPLOI_SMTP_PASSWORD", "faux")
    with pytest.raises(Invalid, match="refuse l'identifiant atelier"):
        reminders.send(digest)
    # A certificate nobody vouches for: no mail either.
    monkeypatch.delenv("REEMPLOI_SMTP_CA_FILE")
    monkeypatch.setenv("REEMPLOI_SMTP_PASSWORD", "mot de passe smtp")
    with pytest.raises(Invalid, match="Envoi des rappels impossible"):
        reminders.send(digest)
    assert smtp_tls.received == []


def test_smtp_in_clear_only_to_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory.errors import Invalid

    monkeypatch.setenv("REEMPLOI_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("REEMPLOI_REMINDER_TO", "coordination@atelier.test")
    monkeypatch.setenv("REEMPLOI_SMTP_SECURITY", "none")
    with pytest.raises(Invalid, match="localhost"):
        reminders.smtp_settings()
    monkeypatch.setenv("REEMPLOI_SMTP_SECURITY", "tls")
    monkeypatch.delenv("REEMPLOI_SMTP_PORT", raising=False)
    assert reminders.smtp_settings().port == 465
    monkeypatch.delenv("REEMPLOI_SMTP_SECURITY")
    settings = reminders.smtp_settings()
    assert (settings.security, settings.port) == ("starttls", 587)
