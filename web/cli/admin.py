"""Administration: database, server, accounts, tokens, demo data, backups, self-audit, purge."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
import uvicorn

from inventory.datadir import tighten
from inventory.errors import DomainError, Invalid, NotFound
from loans import privacy
from web import database
from web.accounts import create_token, create_user, revoke_tokens
from web.accounts import unlock as unlock_login
from web.cli.base import check_data_dir, fail, main, run_async
from web.demo import load_demo
from web.security import log_config
from web.selfcheck import audit


@main.command(help="Appliquer les migrations de la base (SQLite ou PostgreSQL).")
def migrate() -> None:
    check_data_dir()
    run_async(database.migrate())
    # An upgrade step: files written by earlier versions (0644) become private.
    for change in tighten():
        click.echo(change, err=True)
    click.echo("Base à jour.")


@main.command(help="Servir l'application web (par défaut sur http://127.0.0.1:8000).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port d'écoute.")
@click.option("--workers", default=1, show_default=True, type=int, help="Processus serveurs.")
def serve(host: str, port: int, workers: int) -> None:
    check_data_dir()
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(),  # no signing token nor search term in the access log
        proxy_headers=True,
    )


@main.command(help="Créer une personne qui se connecte ; mot de passe lu sur l'entrée standard.")
@click.argument("name")
@click.option(
    "--role", required=True, help="technician, mediator, coordinator, partner, funder, admin."
)
def createuser(name: str, role: str) -> None:
    if sys.stdin.isatty():
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        run_async(create_user(name, password, role))
    except Invalid as error:
        fail(error)
    click.echo(f"Utilisateur {name} créé ({role}).")


class _CreateByDefault(click.Group):
    """`reemploi token NAME --role R` still creates a token: an unknown word means `create`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@main.group(
    cls=_CreateByDefault,
    help="Jetons d'accès des stations et des scripts : token create, token revoke.",
)
def token() -> None:
    pass


@token.command(
    "create", help="Créer un jeton d'accès pour une station ou un script ; il s'affiche une fois."
)
@click.argument("name")
@click.option("--role", required=True, help="Rôle du jeton, en général technician.")
def token_create(name: str, role: str) -> None:
    try:
        click.echo(run_async(create_token(name, role)))
    except Invalid as error:
        fail(error)


@token.command(
    "revoke",
    help=(
        "Révoquer le jeton NAME_OR_ID : son numéro, ou tous les jetons actifs de ce nom ; "
        "il est refusé dès la requête suivante."
    ),
)
@click.argument("name_or_id")
def token_revoke(name_or_id: str) -> None:
    try:
        rows = run_async(revoke_tokens(name_or_id, actor="cli"))
    except NotFound as error:
        fail(error)
    for row in rows:
        click.echo(f"Jeton n° {row['id']} « {row['name']} » ({row['role']}) révoqué.")


@main.command(help="Déverrouiller un compte (ou une adresse) bloqué par des échecs de connexion.")
@click.argument("username", required=False)
@click.option("--address", help="Adresse IP à déverrouiller au lieu d'un compte.")
def unlock(username: str | None, address: str | None) -> None:
    try:
        removed = run_async(unlock_login(username, address, actor="cli"))
    except Invalid as error:
        fail(error)
    what = (
        f"Le compte « {username} » est déverrouillé"
        if username
        else f"L'adresse {address} est déverrouillée"
    )
    click.echo(f"{what} ({removed} échec(s) récent(s) oublié(s)).")


@main.command(help="Charger un jeu de démonstration (deux donateurs, une quarantaine d'appareils).")
@click.option(
    "--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà des appareils."
)
def demo(if_empty: bool) -> None:
    if if_empty and not run_async(database.is_empty()):
        click.echo("La base contient déjà des appareils : démonstration non chargée.")
        return
    password = run_async(load_demo())
    click.echo("Données de démonstration chargées.")
    if password:
        click.echo(f"Compte administrateur : admin / {password}  (à changer)")


@main.command(help="Sauvegarder la base dans FICHIER (à chaud).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    database.backup(file)
    # The whole database, borrowers included: for the server's account only.
    file.chmod(0o600)
    click.echo(f"Sauvegarde écrite : {file}")


@main.command(help="Restaurer la base depuis FICHIER (remplace son contenu).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    try:
        database.restore(file)
    except Invalid as error:
        fail(error)
    click.echo(f"Base restaurée depuis {file}")


@main.command(
    help="Purge programmée : anonymiser les emprunteurs sans prêt ni séance depuis la durée de "
    "conservation (REEMPLOI_RETENTION_DAYS, 730 jours par défaut)."
)
def purge() -> None:
    try:
        erased = run_async(privacy.purge(date.today()))
    except Invalid as error:
        fail(error)
    # Codes only: names never reach a log.
    click.echo(
        f"Emprunteurs anonymisés : {len(erased)}" + (f" ({', '.join(erased)})" if erased else "")
    )


@main.command(
    help="Auto-contrôle : vérifie chaque invariant sur toute la base et le dossier des données, "
    "une phrase par anomalie ; code de sortie 1 s'il y en a."
)
def check() -> None:
    try:
        violations = run_async(audit())
    except DomainError as error:
        fail(error)
    for violation in violations:
        click.echo(violation.sentence)
    if violations:
        click.echo(f"{len(violations)} anomalie(s).", err=True)
        sys.exit(1)
    click.echo("Aucune anomalie.")
