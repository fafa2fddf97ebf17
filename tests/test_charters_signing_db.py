"""Charter versions (validation, statuses, safe Markdown) and one-time signing links (expiry,
single use, the signer's download window)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from inventory import devices
from inventory.errors import Conflict, FieldInvalid, Invalid
from inventory.tables import Event
from loans import charter, checkout, signing
from loans.tables import Charter, Loan, SigningLink
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db

TODAY = date.today()


def _refused(title: str, text: str, when: date | None, field: str, words: str) -> None:
    before = run(Charter.count())
    with pytest.raises(FieldInvalid, match=words) as refusal:
        run(charter.create_version(title, text, when, "coordinatrice"))
    assert refusal.value.field == field
    assert run(Charter.count()) == before


def test_a_new_version_is_checked_field_by_field(db: None) -> None:
    # The very first version may be back-dated: it records the charter already in use.
    first = run(charter.create_version("Charte", "# Charte\n\nTexte.", TODAY - timedelta(10), "c"))
    assert first["version"] == 1
    _refused("  ", "Texte.", TODAY, "title", "titre")
    _refused("x" * 201, "Texte.", TODAY, "title", "200 caractères")
    _refused("Charte", "   ", TODAY, "text", "texte")
    _refused("Charte", "x" * 50_001, TODAY, "text", "50 ?000")
    _refused("Charte", "Texte.", None, "in_force_from", "date")
    _refused("Charte", "Texte.", TODAY - timedelta(days=1), "in_force_from", "passée")
    _refused("Charte", "Texte.", TODAY + timedelta(days=5 * 366), "in_force_from", "ans")
    second = run(charter.create_version(" Charte 2 ", "Nouveau texte.", TODAY, "coordinatrice"))
    assert (second["version"], second["title"]) == (2, "Charte 2")
    events = run(Event.select().where(Event.kind == "charter_published").output(load_json=True))
    assert [e["payload"]["version"] for e in events] == [1, 2]
    assert events[-1]["actor"] == "coordinatrice"


def test_statuses_in_words(db: None) -> None:
    run(charter.create_version("Première", "Un.", TODAY - timedelta(days=30), "c"))
    run(charter.create_version("Deuxième", "Deux.", TODAY, "c"))
    run(charter.create_version("Troisième", "Trois.", TODAY + timedelta(days=30), "c"))
    run(charter.create_version("Quatrième", "Quatre.", TODAY + timedelta(days=60), "c"))
    run(Charter.update({Charter.archived_at: datetime.now(UTC)}).where(Charter.version == 4))
    statuses = {v["version"]: v["status"] for v in run(charter.versions_with_status())}
    assert statuses == {1: "replaced", 2: "in_force", 3: "scheduled", 4: "archived"}
    assert set(charter.STATUSES) == set(statuses.values())
    assert run(charter.in_force())["version"] == 2


def test_markdown_is_rendered_and_raw_html_escaped() -> None:
    html = charter.to_html("# Titre\n\n- un\n- deux\n\n<script>alert(1)</script>\n")
    assert "<h1>Titre</h1>" in html and "<li>un</li>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def link_signature(name: str, role: str) -> signing.LinkSignatureIn:
    """What the signing page sends: the canvas drawing as a data URL."""
    drawing = "data:image/png;base64," + base64.b64encode(signature_png()).decode()
    return signing.LinkSignatureIn(
        signer_name=name, signer_role=checkout.SignerRole(role), signature_data=drawing
    )


def _link(hours: int = signing.DEFAULT_HOURS) -> tuple[str, dict[str, Any], str]:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    request = checkout.CheckoutIn(borrower_id=setup["borrower"]["id"], tags=[tag])
    token, _ = run(signing.create_link(request, "mediatrice", hours))
    return token, setup, tag


def test_an_expired_link_changes_nothing(db: None) -> None:
    token, _, tag = _link()
    past = datetime.now(UTC) - timedelta(minutes=1)
    run(SigningLink.update({SigningLink.expires_at: past}).where(SigningLink.id > 0))
    with pytest.raises(Conflict, match="a expiré"):
        run(signing.open_link(token))
    with pytest.raises(Conflict, match="a expiré"):
        run(signing.sign(token, link_signature("Camille Durand", "self")))
    assert run(Loan.count()) == 0
    assert run(SigningLink.select(SigningLink.used_at).first())["used_at"] is None
    assert run(devices.get_device(tag))["state"] == "ready"
    with pytest.raises(Exception, match="pas encore signée"):
        run(signing.signed_loan(token))


def test_a_link_signs_once_and_its_charter_downloads_for_a_day(db: None) -> None:
    token, setup, tag = _link()
    loan = run(signing.sign(token, link_signature("Camille Durand", "self")))
    assert run(devices.get_device(tag))["state"] == "loaned"
    with pytest.raises(Conflict, match="déjà servi"):
        run(signing.sign(token, link_signature("Camille Durand", "self")))
    assert run(Loan.count()) == 1
    signed = run(signing.signed_loan(token))
    assert signed.id == loan["id"] and signed.document_sha256 == loan["document_sha256"]
    later = datetime.now(UTC) + timedelta(hours=signing.DOWNLOAD_HOURS, minutes=1)
    with pytest.raises(Conflict, match="ne se télécharge plus"):
        run(signing.signed_loan(token, at=later))
    with pytest.raises(Exception, match="inconnu"):
        run(signing.signed_loan("pas-un-jeton"))


def test_link_lifetime_is_bounded(db: None) -> None:
    with pytest.raises(Invalid, match="14 jours"):
        _link(hours=24 * 15)


def test_pages_preview_without_saving_and_publish(client: Any, tokens: dict[str, str]) -> None:
    run(charter.create_version("Charte", "Texte.", TODAY - timedelta(days=3), "c"))
    client.get("/login")  # the CSRF cookie
    staff = {
        "Authorization": f"Bearer {tokens['coordinator']}",
        "x-csrftoken": client.cookies.get("reemploi_csrf", ""),
    }
    text = "# Nouvelle charte\n\n- premier point\n\n<script>alert(1)</script>"
    form = {"title": "Charte 2", "text": text, "in_force_from": TODAY.isoformat()}
    preview = client.post("/charters/new", data={**form, "action": "preview"}, headers=staff)
    assert preview.status_code == 200
    assert "<h1>Nouvelle charte</h1>" in preview.text and "<li>premier point</li>" in preview.text
    assert "<script>alert(1)" not in preview.text
    assert run(Charter.count()) == 1
    past = {**form, "in_force_from": (TODAY - timedelta(days=1)).isoformat(), "action": "publish"}
    refused = client.post("/charters/new", data=past, headers=staff)
    assert refused.status_code == 422 and "passée" in refused.text
    assert 'aria-invalid="true"' in refused.text and "premier point" in refused.text
    assert run(Charter.count()) == 1
    published = client.post(
        "/charters/new", data={**form, "action": "publish"}, headers=staff, follow_redirects=False
    )
    assert published.status_code == 303 and published.headers["location"] == "/charters/2"
    listing = client.get("/charters", headers=staff).text
    assert "en vigueur" in listing and "remplacée" in listing
    assert "<h1>Nouvelle charte</h1>" in client.get("/charters/2", headers=staff).text


def test_the_link_page_refuses_on_the_checkout_form(client: Any, tokens: dict[str, str]) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    client.get("/login")  # the CSRF cookie
    staff = {
        "Authorization": f"Bearer {tokens['mediator']}",
        "x-csrftoken": client.cookies.get("reemploi_csrf", ""),
    }
    cases = [
        ({"new_full_name": "Nouveau Foyer", "tags": tag}, "déjà enregistré"),
        ({"borrower_id": str(setup["borrower"]["id"]), "tags": ""}, "Scannez"),
        ({"borrower_id": str(setup["borrower"]["id"]), "tags": tag, "due_on": "demain"}, "Date"),
    ]
    for fields, words in cases:
        answer = client.post(
            "/loans/links", files={k: (None, v) for k, v in fields.items()}, headers=staff
        )
        assert answer.status_code == 422 and words in answer.text, answer.text[:300]
        assert 'id="checkout"' in answer.text
    assert run(SigningLink.count()) == 0
    fields = {"borrower_id": str(setup["borrower"]["id"]), "tags": tag, "acc_chargeur": "on"}
    made = client.post(
        "/loans/links", files={k: (None, v) for k, v in fields.items()}, headers=staff
    )
    assert made.status_code == 200 and 'id="link-qr"' in made.text
    assert "data:image/svg+xml" in made.text and "/sign/" in made.text
    link = run(SigningLink.select().first().output(load_json=True))
    assert link["request"]["accessories"] == ["chargeur"] and link["request"]["tags"] == [tag]
    assert run(Loan.count()) == 0


def test_a_class_set_link_for_a_school_without_a_borrower_record(
    client: Any, tokens: dict[str, str]
) -> None:
    from loans import borrowers
    from loans.tables import Borrower

    run(loan_setup())
    school = run(borrowers.create_organisation("Collège Victor Hugo", "college"))
    tags = run(ready_devices(2))
    client.get("/login")  # the CSRF cookie
    staff = {
        "Authorization": f"Bearer {tokens['mediator']}",
        "x-csrftoken": client.cookies.get("reemploi_csrf", ""),
    }
    fields = {"organisation_id": str(school["id"]), "tags": "\n".join(tags)}
    made = client.post(
        "/loans/links", files={k: (None, v) for k, v in fields.items()}, headers=staff
    )
    assert made.status_code == 200, made.text[:500]
    token = made.text.split("/sign/", 1)[1].split('"', 1)[0]
    before = run(Borrower.count())
    page = client.get(f"/sign/{token}")  # the head of the school has no account
    assert page.status_code == 200 and 'value="school_representative" selected' in page.text
    loan = run(signing.sign(token, link_signature("Mme la principale", "school_representative")))
    borrower = run(Borrower.select().where(Borrower.id == loan["borrower"]).first())
    assert borrower["organisation"] == school["id"] and run(Borrower.count()) == before + 1
    assert all(run(devices.get_device(t))["state"] == "loaned" for t in tags)
    pdf = client.get(f"/sign/{token}/charte.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    unknown = client.get("/sign/pas-un-jeton/charte.pdf")
    assert unknown.status_code == 404 and "inconnu" in unknown.text
    run(
        SigningLink.update({SigningLink.used_at: datetime.now(UTC) - timedelta(hours=25)}).where(
            SigningLink.id > 0
        )
    )
    late = client.get(f"/sign/{token}/charte.pdf")
    assert late.status_code == 410 and "ne se télécharge plus" in late.text
    assert "Télécharger ma charte signée" not in client.get(f"/sign/{token}").text
