"""Settings read from the environment, shared by every domain."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Where the database, documents and images live (`REEMPLOI_DATA_DIR`, default `var/`)."""
    return Path(os.environ.get("REEMPLOI_DATA_DIR", "var")).resolve()


def database_url() -> str:
    """`REEMPLOI_DATABASE_URL`, or the embedded SQLite file under the data directory."""
    url = os.environ.get("REEMPLOI_DATABASE_URL", "").strip()
    return url or f"sqlite:///{data_dir() / 'reemploi.sqlite'}"


def uses_postgres() -> bool:
    return database_url().startswith(("postgres://", "postgresql://"))


def sqlite_path() -> Path:
    url = database_url()
    if not url.startswith("sqlite:///"):
        raise ValueError(f"Not an SQLite URL: {url}")
    return Path(url.removeprefix("sqlite:///"))


def tag_prefix() -> str:
    """Asset tag prefix (`REEMPLOI_TAG_PREFIX`, 1 to 4 letters, default `RE`)."""
    prefix = os.environ.get("REEMPLOI_TAG_PREFIX", "RE").strip().upper()
    if not (1 <= len(prefix) <= 4 and prefix.isascii() and prefix.isalpha()):
        raise ValueError("REEMPLOI_TAG_PREFIX doit compter 1 à 4 lettres (A-Z).")
    return prefix
