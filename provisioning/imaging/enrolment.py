"""Enrol a live system's host key by the fingerprint its screen shows.

The live system displays `SHA256:…`, not its public key. The server connects to the address,
reads the key offered, and pins it only if its SHA-256 fingerprint is the one typed: a machine
in between would offer another key, and nothing is pinned.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, ClassVar

import msgspec
import paramiko

from inventory.errors import FieldInvalid
from provisioning.imaging import hostkeys
from provisioning.imaging.transport import fetch_host_key

FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


class HostKeyEnrol(msgspec.Struct, forbid_unknown_fields=True):
    """Pin the key a machine offers, if its fingerprint is the one read on its screen."""

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    fingerprint: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 22
    all_hosts: bool = False
    label: Annotated[str, msgspec.Meta(max_length=120)] = ""
    field_labels: ClassVar[dict[str, str]] = {
        "host": "Adresse",
        "fingerprint": "Empreinte",
        "port": "Port SSH",
        "all_hosts": "Clé commune",
        "label": "Libellé",
    }


class FingerprintMismatch(FieldInvalid):
    """The machine offered a key whose fingerprint is not the one typed: nothing is pinned."""

    def __init__(self, message: str) -> None:
        super().__init__("fingerprint", message)


class HostUnreachable(FieldInvalid):
    """No SSH server answered at that address and port."""

    def __init__(self, message: str) -> None:
        super().__init__("host", message)


def normalise(text: str) -> str:
    """`SHA256:abc…=` or `abc…` as typed or copied → `SHA256:abc…` (no padding)."""
    value = "".join(text.split())
    if value.upper().startswith("SHA256:"):
        value = value[7:]
    value = "SHA256:" + value.rstrip("=")
    if not FINGERPRINT.match(value):
        raise FieldInvalid(
            "fingerprint",
            "Empreinte illisible : recopiez celle affichée par le système live, "
            "« SHA256: » suivi de 43 lettres, chiffres, + ou /.",
        )
    return value


async def enrol_by_fingerprint(command: HostKeyEnrol, actor: str = "") -> dict[str, Any]:
    """Read the key `host:port` offers, compare its fingerprint, pin it if equal."""
    host, port, fingerprint = command.host.strip(), command.port, command.fingerprint
    if not host or len(host) > 120 or host == hostkeys.ANY_HOST or any(c.isspace() for c in host):
        raise FieldInvalid("host", "Adresse de la machine manquante ou illisible.")
    if not 1 <= port <= 65535:
        raise FieldInvalid("port", "Le port SSH est un nombre de 1 à 65535.")
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
        hostkeys.ANY_HOST if command.all_hosts else host,
        key,
        port=port,
        label=command.label,
        actor=actor,
    )
