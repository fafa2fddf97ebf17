"""Inventory on its own, outside a deployment: a PC booted into the live system (over SSH, its
host key pinned) or this machine (the bench PC itself), into the device the tag names.

The facts come from the same agent a deployment runs (`target_agent.py facts`) and are stored
the same way (`inventory_collect.store`, with its `hardware_inventoried` event).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, ClassVar

import msgspec
import paramiko

from inventory import devices
from inventory.commands import build
from inventory.errors import Invalid
from provisioning.imaging import deploy, inventory_collect
from provisioning.imaging.hostkeys import PinnedKeyPolicy, load_pins
from provisioning.imaging.transport import Endpoint, SocketFactory, connect

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class InventoryIn(msgspec.Struct, forbid_unknown_fields=True):
    """The command of one inventory: the device's tag and where its hardware is (a live
    system's address, or this machine with `local`)."""

    field_labels: ClassVar[dict[str, str]] = {
        "tag": "Étiquette",
        "host": "Adresse",
        "port": "Port SSH",
        "local": "Cette machine",
    }

    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    host: Annotated[str, msgspec.Meta(max_length=120, pattern=r"^[^\s@/=]*$")] = ""
    port: Port = 22
    local: bool = False


def parse(text: str, local: bool) -> InventoryIn:
    """`TAG@HOST[:PORT]`, or `TAG` with `local`, as the command line takes it."""
    tag, _, address = text.strip().partition("@")
    host, _, port = address.partition(":")
    if local == bool(host):
        raise Invalid("Donnez soit ÉTIQUETTE@ADRESSE (système live), soit ÉTIQUETTE et --local.")
    values = {"tag": tag.strip(), "host": host, "port": port or "22", "local": local}
    return build(InventoryIn, values, strict=False)


def _collect_over_ssh(
    command: InventoryIn, pkey: paramiko.PKey, policy: PinnedKeyPolicy, opener: Any
) -> dict[str, Any]:
    transport = connect(Endpoint(command.host, command.port), pkey, policy, open_socket=opener)
    remote = deploy.Remote(transport)
    try:
        return remote.agent("facts")
    finally:
        remote.close()


async def run_inventory(
    command: InventoryIn,
    actor: str,
    *,
    pkey: paramiko.PKey | None = None,
    open_socket: SocketFactory | None = None,
) -> dict[str, Any]:
    """Collect the facts and store them into the device; the summary stored."""
    device = await devices.get_device(command.tag)  # a misread tag stops before connecting
    if command.local:
        raw = await asyncio.to_thread(inventory_collect.collect_local)
        source = "bench"
    else:
        if pkey is None:
            pkey = deploy.workshop_key()
        policy = PinnedKeyPolicy(await load_pins(), command.port)
        opener = open_socket or deploy.OPEN_SOCKET
        try:
            raw = await asyncio.to_thread(_collect_over_ssh, command, pkey, policy, opener)
        except deploy.StepFailed as error:
            raise Invalid(f"Inventaire de {command.host} impossible : {error}") from None
        except (OSError, EOFError, paramiko.SSHException) as error:
            text = str(error) or type(error).__name__
            raise Invalid(f"Connexion SSH à {command.host} impossible : {text}") from None
        source = f"ssh:{command.host}:{command.port}"
    summary = inventory_collect.summarise(raw)
    await inventory_collect.store(device["id"], summary, actor, source)
    return summary
