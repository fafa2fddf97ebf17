"""Wiping disks on this machine and running a wiping station.

The options become the operation's command (`provisioning.job.WipeOptions`,
`provisioning.station.StationOptions`) through `inventory.commands.build`: a bad value is
refused with the same French sentence the API gives.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from inventory.commands import build
from inventory.errors import DomainError
from inventory.tags import TagError
from provisioning import certificates, job
from provisioning.records import Runner
from provisioning.station import Station, StationOptions
from web.cli.base import fail, main, run_async
from web.settings import base_url


def _given(**values: Any) -> dict[str, Any]:
    """The options typed (an option left out takes the command's default)."""
    return {key: value for key, value in values.items() if value is not None}


@main.command(help="Effacer un disque (NIST SP 800-88) ; un effacement réussi est certifié.")
@click.argument("device_path")
@click.option(
    "--method",
    default="clear",
    show_default=True,
    help="clear : écraser puis relire ; purge : commande du disque (hdparm, nvme-cli).",
)
@click.option(
    "--verify",
    default="full",
    show_default=True,
    help="full : relecture complète ; sample : par échantillon (au moins 10 %) ; Clear seulement.",
)
@click.option("--tag", help="Étiquette de l'appareil qui contient ce disque.")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Écrire le relevé d'effacement dans ce fichier JSON.",
)
@click.option("--allow-loop", is_flag=True, help="Accepter un périphérique loop (essais).")
@click.option("--operator", help="Nom de la personne qui efface (par défaut l'utilisateur).")
@click.option("--station", help="Nom du poste d'effacement (par défaut le nom de la machine).")
def wipe(
    device_path: str,
    method: str,
    verify: str,
    tag: str | None,
    json_file: Path | None,
    allow_loop: bool,
    operator: str | None,
    station: str | None,
) -> None:
    try:
        options = build(
            job.WipeOptions,
            _given(method=method, verify=verify, tag=tag, allow_loop=allow_loop),
            strict=False,
        )
    except DomainError as error:
        fail(error)
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    runner = Runner(operator=operator or f"cli:{user}", station=station or socket.gethostname())

    def show(live: job.LiveProgress) -> None:
        click.echo(job.describe(live), err=True)

    try:
        record, pdf = run_async(
            job.wipe_here(device_path, runner, options, base_url=base_url(), on_tick=show)
        )
    except (DomainError, TagError, ValueError, OSError) as error:
        fail(error)
    if json_file is not None:
        json_file.write_text(json.dumps(record, default=str, ensure_ascii=False, indent=2))
    if record["status"] != "passed":
        click.echo(f"Effacement {record['status']} : {record['reason']}", err=True)
        sys.exit(1)
    click.echo(
        f"Effacement réussi ({record['method_type']}), certificat {record['certificate_id']}."
    )
    if pdf is not None:
        _, path = certificates.store_pdf(pdf)
        click.echo(f"Certificat PDF : {path}")


@main.command(help="Poste d'effacement : efface chaque disque branché et le signale au serveur.")
@click.option("--server", required=True, help="Adresse du serveur Réemploi (http://…).")
@click.option("--token", required=True, help="Jeton d'accès du poste (reemploi token).")
@click.option(
    "--method",
    default="clear",
    show_default=True,
    help="Méthode appliquée à chaque disque branché : clear ou purge.",
)
@click.option(
    "--verify",
    default="full",
    show_default=True,
    help="Relecture complète (full) ou par échantillon (sample).",
)
@click.option(
    "--allow-loop",
    type=click.Path(file_okay=False, path_type=Path),
    help="Accepter les périphériques loop dont le fichier est dans ce dossier (essais).",
)
@click.option("--wipe-present", is_flag=True, help="Effacer aussi les disques déjà branchés.")
@click.option("--name", help="Nom du poste (par défaut le nom de la machine).")
def station(
    server: str,
    token: str,
    method: str,
    verify: str,
    allow_loop: Path | None,
    wipe_present: bool,
    name: str | None,
) -> None:
    values = _given(
        server=server,
        token=token,
        method=method,
        verify=verify,
        allow_loop=str(allow_loop) if allow_loop else None,
        wipe_present=wipe_present,
        name=name or socket.gethostname(),
    )
    try:
        options = build(StationOptions, values, strict=False)
    except DomainError as error:
        fail(error)
    sys.exit(Station(options).run())
