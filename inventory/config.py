"""Settings: every `REEMPLOI_*` environment variable is read here, and only here.

`settings()` reads the environment each time it is called (a handful of lookups), so a test or
a command that sets a variable sees it at once. Each domain reads the field it needs; the
operations guide (docs/operations.md) lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from inventory.errors import Invalid

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Smtp:
    """Raw SMTP variables; `loans.reminders` checks them when it sends."""

    host: str
    port: str
    security: str
    user: str
    password: str
    ca_file: str
    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """What the environment configures, with its defaults."""

    data_dir: Path
    database_url: str
    tag_prefix: str
    base_url: str
    # The base URL was set by the operator (links then use it rather than the request's host).
    base_url_configured: bool
    secret_key: str
    ssh_key: Path
    images_inbox: Path
    retention_days: int
    report_threshold: int
    support_contact: str
    db_pool: bool
    smtp: Smtp

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"REEMPLOI_{name}", default).strip()


def _tag_prefix(value: str) -> str:
    prefix = value.upper()
    if not (1 <= len(prefix) <= 4 and prefix.isascii() and prefix.isalpha()):
        raise ValueError("REEMPLOI_TAG_PREFIX doit compter 1 à 4 lettres (A-Z).")
    return prefix


def _retention_days(value: str) -> int:
    if not value.isdigit() or int(value) < 30:
        raise Invalid("REEMPLOI_RETENTION_DAYS doit être un nombre de jours, 30 au moins.")
    return int(value)


def _threshold(value: str) -> int:
    try:
        return max(1, int(value))
    except ValueError:
        return 5


def settings() -> Settings:
    """The settings now in force."""
    data = Path(_env("DATA_DIR") or "var").resolve()
    base_url = _env("BASE_URL")
    inbox = _env("IMAGES_INBOX")
    return Settings(
        data_dir=data,
        database_url=_env("DATABASE_URL") or f"sqlite:///{data / 'reemploi.sqlite'}",
        tag_prefix=_tag_prefix(_env("TAG_PREFIX") or "RE"),
        base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
        base_url_configured=bool(base_url),
        secret_key=os.environ.get("REEMPLOI_SECRET_KEY", ""),
        ssh_key=Path(_env("SSH_KEY") or data / "ssh" / "id_ed25519").expanduser(),
        images_inbox=Path(inbox) if inbox else data / "images-inbox",
        retention_days=_retention_days(_env("RETENTION_DAYS") or "730"),
        report_threshold=_threshold(_env("REPORT_THRESHOLD") or "5"),
        support_contact=_env("SUPPORT_CONTACT") or "Atelier de réemploi",
        db_pool=_env("DB_POOL", "1") == "1",
        smtp=Smtp(
            host=_env("SMTP_HOST"),
            port=_env("SMTP_PORT"),
            security=_env("SMTP_SECURITY", "starttls").lower() or "starttls",
            user=_env("SMTP_USER"),
            password=os.environ.get("REEMPLOI_SMTP_PASSWORD", ""),
            ca_file=_env("SMTP_CA_FILE"),
            sender=_env("SMTP_FROM") or "reemploi@localhost",
            recipients=tuple(r.strip() for r in _env("REMINDER_TO").split(",") if r.strip()),
        ),
    )


def data_dir() -> Path:
    """Where the database, documents and images live (`REEMPLOI_DATA_DIR`, default `var/`)."""
    return settings().data_dir


def database_url() -> str:
    """`REEMPLOI_DATABASE_URL`, or the embedded SQLite file under the data directory."""
    return settings().database_url


def uses_postgres() -> bool:
    return settings().uses_postgres


def sqlite_path() -> Path:
    url = database_url()
    if not url.startswith("sqlite:///"):
        raise ValueError(f"Not an SQLite URL: {url}")
    return Path(url.removeprefix("sqlite:///"))


def tag_prefix() -> str:
    """Asset tag prefix (`REEMPLOI_TAG_PREFIX`, 1 to 4 letters, default `RE`)."""
    return settings().tag_prefix
