"""The daily job: overdue loans and sessions to plan, on a page always and by e-mail when an SMTP
server is configured (`REEMPLOI_SMTP_*`, `REEMPLOI_REMINDER_TO`; see the README). Mail goes over
STARTTLS or implicit TLS with the server's certificate checked; plain SMTP only to this machine.
Messages name borrowers by their code only."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from inventory import config
from inventory.errors import Invalid
from loans import mediation, queries

SOON_DAYS = 7
SECURITIES = {"starttls": 587, "tls": 465, "none": 25}
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


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


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str
    password: str
    ca_file: str
    sender: str
    recipients: list[str]


def smtp_settings() -> SmtpSettings | None:
    """The SMTP server from the environment, None when mail is not configured."""
    smtp = config.settings().smtp
    host = smtp.host
    recipients = list(smtp.recipients)
    if not host or not recipients:
        return None
    security = smtp.security
    if security not in SECURITIES:
        raise Invalid("REEMPLOI_SMTP_SECURITY vaut starttls, tls ou none.")
    if security == "none" and host.lower() not in LOCAL_HOSTS:
        # Reminders name loans and mediators: never in clear across a network.
        raise Invalid(
            "REEMPLOI_SMTP_SECURITY=none n'est permis que vers un serveur de cette machine "
            "(localhost) ; choisissez starttls ou tls."
        )
    port = smtp.port
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise Invalid("REEMPLOI_SMTP_PORT doit être un numéro de port (1 à 65535).")
    user, password = smtp.user, smtp.password
    if bool(user) != bool(password):
        raise Invalid("REEMPLOI_SMTP_USER et REEMPLOI_SMTP_PASSWORD vont ensemble.")
    return SmtpSettings(
        host=host,
        port=int(port) if port else SECURITIES[security],
        security=security,
        user=user,
        password=password,
        ca_file=smtp.ca_file,
        sender=smtp.sender,
        recipients=recipients,
    )


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The system's trusted authorities, or the workshop's own (`REEMPLOI_SMTP_CA_FILE`)."""
    return ssl.create_default_context(cafile=settings.ca_file or None)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=30, context=_tls_context(settings)
        )
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=30)
    if settings.security == "starttls":
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            smtp.close()
            raise Invalid(
                f"Le serveur SMTP {settings.host} ne propose pas STARTTLS : "
                "rappels non envoyés (REEMPLOI_SMTP_SECURITY=tls pour le port 465)."
            )
        smtp.starttls(context=_tls_context(settings))
        smtp.ehlo()
    return smtp


def send(d: Digest) -> bool:
    """E-mail the digest when SMTP is configured and there is something to say."""
    settings = smtp_settings()
    if settings is None or d.empty:
        return False
    message = EmailMessage()
    message["Subject"] = f"Réemploi : rappels du {d.today.strftime('%d/%m/%Y')}"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(message_text(d))
    try:
        with _connect(settings) as smtp:
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise Invalid(
            f"Le serveur SMTP {settings.host} refuse l'identifiant {settings.user} : "
            "rappels non envoyés."
        ) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        raise Invalid(f"Envoi des rappels impossible par {settings.host} : {error}.") from None
    return True
