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
