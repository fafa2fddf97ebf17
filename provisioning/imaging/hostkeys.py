"""Pinned SSH host keys: enrolled once, then any unknown or changed key is refused.

Nothing is trusted on first sight: `PinnedKeyPolicy` accepts a key only when it equals a pin for
the host (or the live system's shared pin, host `*`), and its refusal names the fingerprint seen.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
import paramiko

from inventory.clock import now
from inventory.errors import Invalid
from provisioning.imaging.tables import HostKey

ANY_HOST = "*"
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class HostKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A host's public key line as printed by the live system (`ssh-ed25519 AAAA…`)."""

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    public_key: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    port: Port = 22
    label: Annotated[str, msgspec.Meta(max_length=120)] = ""
    field_labels: ClassVar[dict[str, str]] = {
        "host": "Adresse",
        "public_key": "Clé publique",
        "port": "Port SSH",
        "label": "Libellé",
    }


class HostKeyOut(msgspec.Struct):
    """A pinned host key as the API shows it."""

    host: str
    port: int
    key_type: str
    fingerprint: str
    label: str
    enrolled_at: datetime
    enrolled_by: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> HostKeyOut:
        return cls(**{f: row[f] for f in cls.__struct_fields__})


class HostKeyRefused(paramiko.SSHException):
    """The server's key is not the pinned one: nothing is sent to it."""


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(line: str) -> paramiko.PKey:
    """A key from an OpenSSH public key line (`ssh-ed25519 AAAA… comment`)."""
    parts = line.split()
    if len(parts) < 2:
        raise Invalid("Clé publique illisible : attendu « type base64 ».")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except Exception:
        raise Invalid(
            "Clé publique illisible : attendu une ligne « ssh-ed25519 AAAA… » telle que "
            "l'affiche ssh-keygen."
        ) from None


class PinnedKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Accept only pinned keys. `pins` maps (host, port) or (`*`, 0) to a list of keys."""

    def __init__(self, pins: dict[tuple[str, int], list[tuple[str, str]]], port: int = 22):
        self.pins = pins
        self.port = port

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        host = hostname.strip("[]").rsplit("]:", 1)[0]
        seen = (key.get_name(), key.get_base64())
        own = self.pins.get((host, self.port), [])
        shared = self.pins.get((ANY_HOST, 0), [])
        if seen in own or seen in shared:
            return
        if own:
            raise HostKeyRefused(
                f"La clé d'hôte de {host}:{self.port} a changé : reçue {fingerprint(key)} "
                f"({key.get_name()}), épinglée {', '.join(_fp(k) for k in own)}. Connexion "
                "refusée ; vérifiez la machine puis réinscrivez sa clé."
            )
        raise HostKeyRefused(
            f"Clé d'hôte inconnue pour {host}:{self.port} : {fingerprint(key)} "
            f"({key.get_name()}). Connexion refusée ; inscrivez d'abord cette empreinte "
            "(reemploi image enrol-host)."
        )


def _fp(pin: tuple[str, str]) -> str:
    return "SHA256:" + base64.b64encode(
        hashlib.sha256(base64.b64decode(pin[1])).digest()
    ).decode().rstrip("=")


async def load_pins() -> dict[tuple[str, int], list[tuple[str, str]]]:
    pins: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for row in await HostKey.select():
        port = 0 if row["host"] == ANY_HOST else row["port"]
        pins.setdefault((row["host"], port), []).append((row["key_type"], row["key_base64"]))
    return pins


async def enrol(
    host: str, key: paramiko.PKey, *, port: int = 22, label: str = "", actor: str = ""
) -> dict[str, Any]:
    """Pin `key` for `host` (replacing the host's previous pins); `*` pins the live system."""
    if not host or len(host) > 120:
        raise Invalid("Adresse d'hôte manquante ou trop longue.")
    port = 0 if host == ANY_HOST else port
    await HostKey.delete().where((HostKey.host == host) & (HostKey.port == port))
    await HostKey.insert(
        HostKey(
            host=host,
            port=port,
            key_type=key.get_name(),
            key_base64=key.get_base64(),
            fingerprint=fingerprint(key),
            label=label,
            enrolled_at=now(),
            enrolled_by=actor,
        )
    )
    row = await HostKey.select().where(HostKey.host == host).first()
    if row is None:  # deleted between the insert and this read
        raise Invalid(f"La clé de {host} n'a pas été inscrite.")
    return row


async def list_pins() -> list[dict[str, Any]]:
    return await HostKey.select().order_by(HostKey.host)


async def enrol_line(command: HostKeyIn, actor: str) -> HostKeyOut:
    """Pin the public key line of `command` (`*` as host: the live system's key, any address)."""
    key = parse_public_key(command.public_key)
    row = await enrol(
        command.host.strip(), key, port=command.port, label=command.label, actor=actor
    )
    return HostKeyOut.from_row(row)
