"""Enrol a live system's host key by the fingerprint its screen shows.

The live system displays `SHA256:…`, not its public key. The server connects to the address,
reads the key offered, and pins it only if its SHA-256 fingerprint is the one typed: a machine
in between would offer another key, and nothing is pinned.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import paramiko

from inventory.errors import Invalid
from provisioning.imaging import hostkeys
from provisioning.imaging.transport import fetch_host_key

FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


class FingerprintMismatch(Invalid):
    """The machine offered a key whose fingerprint is not the one typed: nothing is pinned."""


class HostUnreachable(Invalid):
    """No SSH server answered at that address and port."""


def normalise(text: str) -> str:
    """`SHA256:abc…=` or `abc…` as typed or copied → `SHA256:abc…` (no padding)."""
    value = "".join(text.split())
    if value.upper().startswith("SHA256:"):
        value = value[7:]
    value = "SHA256:" + value.rstrip("=")
    if not FINGERPRINT.match(value):
        raise Invalid(
            "Empreinte illisible : recopiez celle affichée par le système live, "
            "« SHA256: » suivi de 43 lettres, chiffres, + ou /."
        )
    return value


async def enrol_by_fingerprint(
    host: str,
    fingerprint: str,
    *,
    port: int = 22,
    all_hosts: bool = False,
    label: str = "",
    actor: str = "",
) -> dict[str, Any]:
    """Read the key `host:port` offers, compare its fingerprint, pin it if equal."""
    host = host.strip()
    if not host or len(host) > 120 or host == hostkeys.ANY_HOST or any(c.isspace() for c in host):
        raise Invalid("Adresse de la machine manquante ou illisible.")
    if not 1 <= port <= 65535:
        raise Invalid("Le port SSH est un nombre de 1 à 65535.")
    expected = normalise(fingerprint)
    try:
        key = await asyncio.to_thread(fetch_host_key, host, port)
    except (TimeoutError, OSError, EOFError, paramiko.SSHException):
        raise HostUnreachable(
            f"Aucun serveur SSH ne répond à {host}:{port} : vérifiez l'adresse et que la machine "
            "a démarré sur le système live."
        ) from None
    if hostkeys.fingerprint(key) != expected:
        raise FingerprintMismatch(
            f"La machine {host}:{port} présente une autre empreinte que celle saisie : rien "
            "n'est inscrit. Vérifiez l'empreinte affichée sur son écran et l'adresse."
        )
    return await hostkeys.enrol(
        hostkeys.ANY_HOST if all_hosts else host, key, port=port, label=label, actor=actor
    )
