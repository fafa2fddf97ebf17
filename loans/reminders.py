"""The daily job: overdue loans and sessions to plan, on a page always and by e-mail when an SMTP
server is configured (`REEMPLOI_SMTP_HOST`, `REEMPLOI_SMTP_PORT`, `REEMPLOI_SMTP_FROM`,
`REEMPLOI_REMINDER_TO`). Messages name borrowers by their code only."""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from loans import mediation, queries

SOON_DAYS = 7


@dataclass
class Digest:
    today: date
    overdue_loans: list[dict[str, Any]]
    overdue_sessions: list[dict[str, Any]]
    upcoming_sessions: list[dict[str, Any]]

    @property
    def empty(self) -> bool:
        return not (self.overdue_loans or self.overdue_sessions or self.upcoming_sessions)


async def digest(today: date) -> Digest:
    sessions = await mediation.agenda(today, days=SOON_DAYS)
    return Digest(
        today=today,
        overdue_loans=await queries.overdue_loans(today),
        overdue_sessions=[s for s in sessions if s["overdue"]],
        upcoming_sessions=[s for s in sessions if not s["overdue"]],
    )


def message_text(d: Digest) -> str:
    lines = [f"Réemploi — rappels du {d.today.strftime('%d/%m/%Y')}", ""]
    lines.append(f"Prêts en retard : {len(d.overdue_loans)}")
    for loan in d.overdue_loans:
        lines.append(
            f"  - prêt {loan['id']} ({loan['borrower_code']}), retour prévu le "
            f"{loan['due_on'].strftime('%d/%m/%Y')}"
        )
    lines.append(f"Séances en retard : {len(d.overdue_sessions)}")
    for s in d.overdue_sessions:
        lines.append(
            f"  - {s['label']} ({s['borrower_code'] or 'collectif'}), prévue le "
            f"{s['planned_on'].strftime('%d/%m/%Y')}, {s['mediator']}"
        )
    horizon = d.today + timedelta(days=SOON_DAYS)
    lines.append(
        f"Séances à venir d'ici le {horizon.strftime('%d/%m/%Y')} : {len(d.upcoming_sessions)}"
    )
    for s in d.upcoming_sessions:
        lines.append(
            f"  - {s['label']} ({s['borrower_code'] or 'collectif'}), le "
            f"{s['planned_on'].strftime('%d/%m/%Y')}, {s['mediator']}"
        )
    return "\n".join(lines) + "\n"


def smtp_settings() -> dict[str, Any] | None:
    host = os.environ.get("REEMPLOI_SMTP_HOST", "").strip()
    recipients = [
        r.strip() for r in os.environ.get("REEMPLOI_REMINDER_TO", "").split(",") if r.strip()
    ]
    if not host or not recipients:
        return None
    return {
        "host": host,
        "port": int(os.environ.get("REEMPLOI_SMTP_PORT", "25")),
        "sender": os.environ.get("REEMPLOI_SMTP_FROM", "reemploi@localhost").strip(),
        "recipients": recipients,
    }


def send(d: Digest) -> bool:
    """E-mail the digest when SMTP is configured and there is something to say."""
    settings = smtp_settings()
    if settings is None or d.empty:
        return False
    message = EmailMessage()
    message["Subject"] = f"Réemploi : rappels du {d.today.strftime('%d/%m/%Y')}"
    message["From"] = settings["sender"]
    message["To"] = ", ".join(settings["recipients"])
    message.set_content(message_text(d))
    with smtplib.SMTP(settings["host"], settings["port"], timeout=30) as smtp:
        smtp.send_message(message)
    return True
