"""Follow-up sessions: planned at checkout, recorded, overdue on the agenda; reminders by SMTP."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import msgspec
import pytest

from inventory.errors import Conflict, FieldInvalid
from loans import borrowers, checkout, mediation, reminders
from loans.tables import MediationSession
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: greet, accept one or more messages, keep them."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 test SMTP")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 test")
            elif command == "DATA":
                self.reply("354 end with .")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data)
                self.server.messages.append(b"".join(lines))  # type: ignore[attr-defined]
                self.reply("250 queued")
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("REEMPLOI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("REEMPLOI_SMTP_PORT", str(server.server_address[1]))
    # A local relay in clear (allowed to localhost only); TLS is tested in test_security_web_db.
    monkeypatch.setenv("REEMPLOI_SMTP_SECURITY", "none")
    monkeypatch.setenv("REEMPLOI_REMINDER_TO", "coordination@atelier.test")
    yield server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def lend(mediator: str = "mediatrice") -> dict:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    return run(
        checkout.checkout(
            checkout.CheckoutIn(setup["borrower"]["id"], [tag], setup["programme"]["id"]),
            checkout.SignatureIn("drawn", signature_png(), "Camille Durand", "self"),
            mediator,
        )
    )


def sessions_of(loan_id: int) -> list[dict]:
    return run(
        MediationSession.select()
        .where(MediationSession.loan == loan_id)
        .order_by(MediationSession.planned_on)
    )


def test_followups_are_planned_and_recorded(db: None) -> None:
    loan = lend()
    first, second = sessions_of(loan["id"])
    today = date.today()
    assert (first["label"], first["planned_on"]) == ("prise en main", today + timedelta(days=7))
    assert (second["label"], second["planned_on"]) == ("usages", today + timedelta(days=30))
    assert first["mediator"] == "mediatrice"
    record = mediation.SessionRecord(
        status="done",
        held_on=today,
        place_type="domicile",
        commune_insee="69266",
        duration_minutes=60,
        themes=["prendre_en_main_du_materiel", "email"],
        autonomy="partiellement_autonome",
        notes="bonne prise en main",
    )
    done = run(mediation.record_session(first["id"], record, "mediatrice"))
    assert done["status"] == "done" and done["themes"] == ["prendre_en_main_du_materiel", "email"]
    with pytest.raises(Conflict):
        run(mediation.record_session(first["id"], record, "mediatrice"))
    with pytest.raises(FieldInvalid, match="Thématiques") as refusal:
        bad = msgspec.structs.replace(record, themes=["astrologie"])
        run(mediation.record_session(second["id"], bad, "mediatrice"))
    assert refusal.value.field == "themes"
    missed = run(
        mediation.record_session(second["id"], mediation.SessionRecord(status="missed"), "m")
    )
    assert missed["status"] == "missed"


def test_the_vocabulary_is_the_coop_s(db: None) -> None:
    assert len(mediation.THEMES) == 19
    assert "Aide aux démarches administratives" in mediation.THEMES.values()
    assert set(mediation.AUTONOMY) == {
        "entierement_accompagne",
        "partiellement_autonome",
        "autonome",
    }


def test_a_collective_workshop(db: None) -> None:
    run(loan_setup())
    other = run(borrowers.create_borrower(borrowers.BorrowerIn(full_name="Sam Petit")))
    ids = [r["id"] for r in run(borrowers.Borrower.select(borrowers.Borrower.id))]
    command = mediation.WorkshopIn(
        planned_on=date.today(), borrower_ids=ids, label="Atelier", mediator="mediatrice"
    )
    workshop = run(mediation.create_workshop(command, "m"))
    assert workshop["collective"] and sorted(workshop["attendees"]) == sorted(ids)
    assert other["id"] in workshop["attendees"]


def test_overdue_sessions_on_the_agenda_and_by_mail(db: None, smtp_server: list[bytes]) -> None:
    loan = lend("mediatrice")
    other = lend("autre")
    first = sessions_of(loan["id"])[0]
    past = date.today() - timedelta(days=3)
    run(
        MediationSession.update({MediationSession.planned_on: past}).where(
            MediationSession.id == first["id"]
        )
    )
    mine = run(mediation.agenda(date.today(), "mediatrice"))
    assert [s["overdue"] for s in mine] == [True, False]
    assert all(s["mediator"] == "mediatrice" for s in mine)
    assert len(run(mediation.agenda(date.today(), "autre"))) == 2
    # An overdue loan too.
    from loans.tables import Loan

    run(Loan.update({Loan.due_on: past}).where(Loan.id == other["id"]))
    digest = run(reminders.digest(date.today()))
    assert len(digest.overdue_loans) == 1 and len(digest.overdue_sessions) == 1
    assert reminders.send(digest) is True
    (raw,) = smtp_server
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "coordination@atelier.test"
    body = message.get_content()
    assert f"prêt {other['id']} ({other['borrower_code']})" in body
    assert f"prise en main ({loan['borrower_code']})" in body
    assert "Camille" not in body


def test_no_mail_without_smtp(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REEMPLOI_SMTP_HOST", raising=False)
    lend()
    assert reminders.send(run(reminders.digest(date.today() + timedelta(days=10)))) is False


def test_the_daily_command(db: None, smtp_server: list[bytes]) -> None:
    from click.testing import CliRunner

    from web.cli import main

    lend()
    result = CliRunner().invoke(main, ["reminders", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Séances à venir" in result.output
    assert smtp_server == []
    purge = CliRunner().invoke(main, ["purge"])
    assert purge.exit_code == 0 and "anonymisés : 0" in purge.output
