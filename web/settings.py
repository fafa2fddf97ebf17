"""Web settings from the environment: secret key, public base URL."""

from __future__ import annotations

import os
import secrets

from inventory import config


def secret_key() -> str:
    """`REEMPLOI_SECRET_KEY`, or one generated once and kept in the data directory."""
    current = config.settings()
    if current.secret_key:
        return current.secret_key
    path = current.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def base_url() -> str:
    """`REEMPLOI_BASE_URL`: how devices' QR codes and links reach this server."""
    return config.settings().base_url


def secure_cookies() -> bool:
    return base_url().startswith("https://")
