"""The `reemploi` command line; each command calls the same services as the web application."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

os.environ.setdefault("PICCOLO_CONF", "web.piccolo_conf")


T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _fail(error: Exception) -> None:
    click.echo(f"Erreur : {error}", err=True)
    sys.exit(2)


@click.group(help="Réemploi : collecte, effacement, installation, étiquettes et prêts de PC.")
def main() -> None:
    pass


@main.command(help="Appliquer les migrations de la base (SQLite ou PostgreSQL).")
def migrate() -> None:
    from web.database import migrate as run_migrations

    _run(run_migrations())
    click.echo("Base à jour.")


@main.command(help="Servir l'application web (par défaut sur http://127.0.0.1:8000).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port d'écoute.")
@click.option("--workers", default=1, show_default=True, type=int, help="Processus serveurs.")
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


@main.command(help="Créer une personne qui se connecte ; mot de passe lu sur l'entrée standard.")
@click.argument("name")
@click.option(
    "--role", required=True, help="technician, mediator, coordinator, partner, funder, admin."
)
def createuser(name: str, role: str) -> None:
    from inventory.errors import Invalid
    from web.accounts import create_user

    if sys.stdin.isatty():
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        _run(create_user(name, password, role))
    except Invalid as error:
        _fail(error)
    click.echo(f"Utilisateur {name} créé ({role}).")


@main.command(help="Créer un jeton d'accès pour une station ou un script ; il s'affiche une fois.")
@click.argument("name")
@click.option("--role", required=True, help="Rôle du jeton, en général technician.")
def token(name: str, role: str) -> None:
    from inventory.errors import Invalid
    from web.accounts import create_token

    try:
        click.echo(_run(create_token(name, role)))
    except Invalid as error:
        _fail(error)


@main.command(help="Charger un jeu de démonstration (deux donateurs, une quarantaine d'appareils).")
@click.option(
    "--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà des appareils."
)
def demo(if_empty: bool) -> None:
    from web.database import is_empty
    from web.demo import load_demo

    if if_empty and not _run(is_empty()):
        click.echo("La base contient déjà des appareils : démonstration non chargée.")
        return
    password = _run(load_demo())
    click.echo("Données de démonstration chargées.")
    if password:
        click.echo(f"Compte administrateur : admin / {password}  (à changer)")


@main.command(help="Sauvegarder la base dans FICHIER (à chaud).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    from web.database import backup as run_backup

    run_backup(file)
    click.echo(f"Sauvegarde écrite : {file}")


@main.command(help="Restaurer la base depuis FICHIER (remplace son contenu).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    from inventory.errors import Invalid
    from web.database import restore as run_restore

    try:
        run_restore(file)
    except Invalid as error:
        _fail(error)
    click.echo(f"Base restaurée depuis {file}")


@main.command(help="Imprimer les étiquettes d'un don ou d'une liste d'appareils dans un PDF.")
@click.option("--donation", type=int, help="Numéro du don dont on imprime toutes les étiquettes.")
@click.option(
    "--tags", help="Étiquettes séparées par des virgules, par exemple RE-000001-F,RE-000002-D."
)
@click.option(
    "--stock",
    required=True,
    help="Support : brother62, dymo99012, l7160, l7651 ou custom:LARGEURxHAUTEUR (en mm).",
)
@click.option(
    "--start",
    default=1,
    show_default=True,
    type=int,
    help="Première position libre sur une planche entamée (comptée ligne par ligne).",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF à écrire."
)
def label(donation: int | None, tags: str | None, stock: str, start: int, out: Path) -> None:
    from inventory.errors import Invalid, NotFound
    from inventory.tags import TagError
    from labels.service import labels_pdf, parse_tag_list
    from web.settings import base_url

    try:
        codes = parse_tag_list(tags or "")
        pdf = _run(
            labels_pdf(base_url=base_url(), stock=stock, donation=donation, tags=codes, start=start)
        )
    except (Invalid, NotFound, TagError) as error:
        _fail(error)
    out.write_bytes(pdf)
    click.echo(f"Étiquettes écrites : {out}")


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
        record, pdf = _run(
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
        _fail(error)
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


@main.command(
    help="Tâche quotidienne : prêts en retard et séances à planifier, envoyés par courriel si "
    "REEMPLOI_SMTP_HOST et REEMPLOI_REMINDER_TO sont définis."
)
@click.option("--dry-run", is_flag=True, help="Afficher les rappels sans envoyer de courriel.")
def reminders(dry_run: bool) -> None:
    from datetime import date

    from loans import reminders as daily

    digest = _run(daily.digest(date.today()))
    click.echo(daily.message_text(digest), nl=False)
    if not dry_run and daily.send(digest):
        click.echo("Rappels envoyés par courriel.")


@main.command(
    help="Purge programmée : anonymiser les emprunteurs sans prêt ni séance depuis la durée de "
    "conservation (REEMPLOI_RETENTION_DAYS, 730 jours par défaut)."
)
def purge() -> None:
    from datetime import date

    from inventory.errors import Invalid
    from loans import privacy

    try:
        erased = _run(privacy.purge(date.today()))
    except Invalid as error:
        _fail(error)
    # Codes only: names never reach a log.
    click.echo(
        f"Emprunteurs anonymisés : {len(erased)}" + (f" ({', '.join(erased)})" if erased else "")
    )
