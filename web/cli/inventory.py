"""`reemploi inventory`: a PC's hardware into its device, outside any deployment.

Over SSH to a PC booted into the live system (host key pinned, the workshop's key), or on this
machine with `--local`; the command is `provisioning.imaging.inventory_run.InventoryIn`.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from inventory.errors import DomainError
from inventory.tags import TagError
from provisioning.imaging import deploy, inventory_run
from provisioning.imaging.deploy import StepFailed
from web.cli.base import fail, main, run_async


def _user() -> str:
    """Who runs the command, for the audit trail (the login behind sudo)."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"


@main.command(
    "inventory",
    help="Inventorier le matériel d'un PC (processeur, mémoire, disques et santé SMART, "
    "batterie) dans sa fiche : ÉTIQUETTE@ADRESSE[:PORT] pour un PC démarré sur le système "
    "live, ou ÉTIQUETTE --local pour cette machine.",
)
@click.argument("target")
@click.option(
    "--local", is_flag=True, help="Inventorier cette machine (banc) plutôt qu'un PC distant."
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Clé privée SSH de l'atelier (par défaut $REEMPLOI_SSH_KEY ou ssh/id_ed25519 dans le "
    "dossier de données, comme le serveur).",
)
def inventory(target: str, local: bool, key: Path | None) -> None:
    try:
        command = inventory_run.parse(target, local)
        pkey = None if command.local else deploy.workshop_key(key)
        summary = run_async(inventory_run.run_inventory(command, f"cli:{_user()}", pkey=pkey))
    except (DomainError, TagError, StepFailed) as error:
        fail(error)
    system = summary["system"]
    click.echo(f"{command.tag} : {system.get('vendor', '')} {system.get('product', '')}".rstrip())
    if system.get("cpu"):
        click.echo(f"  Processeur : {system['cpu']}")
    if system.get("memory_bytes"):
        click.echo(f"  Mémoire : {int(system['memory_bytes']) / 2**30:.1f} Gio")
    for disk in summary["disks"]:
        health = {True: "bonne", False: "EN ÉCHEC"}.get(disk.get("smart_passed"), "inconnue")
        hours = disk.get("power_on_hours")
        click.echo(
            f"  Disque {disk.get('path', '')} {disk.get('model', '')} : santé SMART {health}"
            + (f", {hours} h" if hours is not None else "")
        )
    for battery in summary["battery"]:
        click.echo(f"  Batterie {battery['name']} : {battery.get('health_percent')} % de capacité")
