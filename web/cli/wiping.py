"""Wiping disks on this machine and running a wiping station."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from web.cli.base import fail, main, run_async


@main.command(help="Effacer un disque (NIST SP 800-88) ; un effacement réussi est certifié.")
@click.argument("device_path")
@click.option(
    "--method",
    type=click.Choice(["clear", "purge"]),
    default="clear",
    show_default=True,
    help="clear : écraser puis relire ; purge : commande du disque (hdparm, nvme-cli).",
)
@click.option(
    "--verify",
    type=click.Choice(["full", "sample"]),
    default="full",
    show_default=True,
    help="Relecture complète, ou par échantillon (au moins 10 %) ; Clear seulement.",
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
    import json
    import socket

    from inventory.errors import DomainError
    from inventory.tags import TagError
    from provisioning import job
    from provisioning.records import Runner
    from web.settings import base_url

    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    runner = Runner(operator=operator or f"cli:{user}", station=station or socket.gethostname())

    def show(live: job.LiveProgress) -> None:
        click.echo(job.describe(live), err=True)

    try:
        record, pdf = run_async(
            job.wipe_here(
                device_path,
                runner,
                method=method,
                verify=verify,
                tag=tag,
                allow_loop=allow_loop,
                base_url=base_url(),
                on_tick=show,
            )
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
        from provisioning.certificates import store_pdf

        _, path = store_pdf(pdf)
        click.echo(f"Certificat PDF : {path}")


@main.command(help="Poste d'effacement : efface chaque disque branché et le signale au serveur.")
@click.option("--server", required=True, help="Adresse du serveur Réemploi (http://…).")
@click.option("--token", required=True, help="Jeton d'accès du poste (reemploi token).")
@click.option(
    "--method",
    type=click.Choice(["clear", "purge"]),
    default="clear",
    show_default=True,
    help="Méthode appliquée à chaque disque branché.",
)
@click.option(
    "--verify",
    type=click.Choice(["full", "sample"]),
    default="full",
    show_default=True,
    help="Relecture complète ou par échantillon.",
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
    import socket

    from provisioning.station import Station

    bench = Station(
        server=server,
        token=token,
        method=method,
        verify=verify,
        allow_loop=allow_loop,
        name=name or socket.gethostname(),
    )
    sys.exit(bench.run(wipe_present=wipe_present))
