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
    from inventory.datadir import restrict_new_files

    # Everything this process and its workers create (database, WAL, documents) is 0600/0700.
    restrict_new_files()


def _check_data_dir() -> None:
    """Create the data folder 0700 and name, on stderr, every path others could read."""
    from inventory.datadir import prepare

    for warning in prepare():
        click.echo(warning, err=True)


@main.command(help="Appliquer les migrations de la base (SQLite ou PostgreSQL).")
def migrate() -> None:
    from inventory.datadir import tighten
    from web.database import migrate as run_migrations

    _check_data_dir()
    _run(run_migrations())
    # An upgrade step: files written by earlier versions (0644) become private.
    for change in tighten():
        click.echo(change, err=True)
    click.echo("Base à jour.")


@main.command(help="Servir l'application web (par défaut sur http://127.0.0.1:8000).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port d'écoute.")
@click.option("--workers", default=1, show_default=True, type=int, help="Processus serveurs.")
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    _check_data_dir()

    from web.security import log_config

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
    from inventory.errors import Invalid
    from web.accounts import create_token

    try:
        click.echo(_run(create_token(name, role)))
    except Invalid as error:
        _fail(error)


@token.command(
    "revoke",
    help=(
        "Révoquer le jeton NAME_OR_ID : son numéro, ou tous les jetons actifs de ce nom ; "
        "il est refusé dès la requête suivante."
    ),
)
@click.argument("name_or_id")
def token_revoke(name_or_id: str) -> None:
    from inventory.errors import NotFound
    from web.accounts import revoke_tokens

    try:
        rows = _run(revoke_tokens(name_or_id, actor="cli"))
    except NotFound as error:
        _fail(error)
    for row in rows:
        click.echo(f"Jeton n° {row['id']} « {row['name']} » ({row['role']}) révoqué.")


@main.command(help="Déverrouiller un compte (ou une adresse) bloqué par des échecs de connexion.")
@click.argument("username", required=False)
@click.option("--address", help="Adresse IP à déverrouiller au lieu d'un compte.")
def unlock(username: str | None, address: str | None) -> None:
    from inventory.errors import Invalid
    from web.accounts import unlock as unlock_login

    try:
        removed = _run(unlock_login(username, address, actor="cli"))
    except Invalid as error:
        _fail(error)
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
    # The whole database, borrowers included: for the server's account only.
    file.chmod(0o600)
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


@main.group(help="Images système : ajout, liste, clés d'hôte du système live, déploiement.")
def image() -> None:
    pass


@image.command("add", help="Ajouter une image : compresse ses plages utiles (zstd) et sa carte.")
@click.argument("name")
@click.option(
    "--from",
    "raw",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Image disque brute (par exemple debian.img).",
)
@click.option("--version", "version", default="1", show_default=True, help="Version de l'image.")
def image_add(name: str, raw: Path, version: str) -> None:
    from inventory.errors import DomainError
    from provisioning.imaging import images

    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    try:
        row = _run(images.add_image(name, raw, version=version, actor=f"cli:{user}"))
    except DomainError as error:
        _fail(error)
    click.echo(
        f"Image {row['name']} {row['version']} : {row['size_bytes']} octets, "
        f"{row['mapped_bytes']} utiles en {row['range_count']} plages, "
        f"{row['compressed_bytes']} compressés ; carte {row['map_sha256']}"
    )


@image.command("list", help="Lister les images : taille, taille utile, version, empreinte.")
def image_list() -> None:
    from provisioning.imaging import images

    for row in _run(images.list_images()):
        click.echo(
            f"{row['name']}\t{row['version']}\t{row['size_bytes']}\t{row['mapped_bytes']}\t"
            f"{row['compressed_bytes']}\t{row['map_sha256']}"
        )


@image.command(
    "enrol-host",
    help="Inscrire la clé d'hôte SSH du système live d'une machine (vérifiez l'empreinte).",
)
@click.argument("host")
@click.option("--port", default=22, show_default=True, type=int, help="Port SSH.")
@click.option(
    "--fingerprint",
    help="Empreinte SHA256:… lue sur l'écran de la machine ; sans elle, on vous la demande.",
)
@click.option(
    "--all-hosts",
    is_flag=True,
    help="Clé commune du système live (clé USB ou PXE de l'atelier), valable pour toute adresse.",
)
def image_enrol_host(host: str, port: int, fingerprint: str | None, all_hosts: bool) -> None:
    from inventory.errors import DomainError
    from provisioning.imaging import hostkeys
    from provisioning.imaging.transport import fetch_host_key

    try:
        key = fetch_host_key(host, port)
    except OSError as error:
        _fail(error)
    seen = hostkeys.fingerprint(key)
    if fingerprint is not None and fingerprint.strip() != seen:
        _fail(ValueError(f"la machine présente {seen}, pas {fingerprint} : rien n'est inscrit."))
    if fingerprint is None and not click.confirm(f"Empreinte présentée : {seen}. L'inscrire ?"):
        sys.exit(1)
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    try:
        _run(
            hostkeys.enrol(
                hostkeys.ANY_HOST if all_hosts else host, key, port=port, actor=f"cli:{user}"
            )
        )
    except DomainError as error:
        _fail(error)
    click.echo(f"Clé inscrite : {seen}")


def _parse_target(text: str):
    from inventory.errors import Invalid
    from provisioning.imaging.deploy import parse_target

    try:
        return parse_target(text)
    except Invalid as error:
        raise click.BadParameter(str(error)) from None


@image.command("deploy", help="Installer une image sur des PC démarrés sur le système live.")
@click.option("--image", "image_name", required=True, help="Nom de l'image.")
@click.option(
    "--profile",
    required=True,
    help="Profil : ecole, famille, senior ou association.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Clé privée SSH de l'atelier (par défaut $REEMPLOI_SSH_KEY ou ~/.ssh/id_ed25519).",
)
@click.argument("targets", nargs=-1, required=True)
def image_deploy(image_name: str, profile: str, key: Path | None, targets: tuple[str, ...]) -> None:
    import paramiko

    from inventory.errors import DomainError
    from inventory.tags import TagError
    from provisioning.imaging import deploy

    parsed = [_parse_target(t) for t in targets]
    key_path = key or Path(os.environ.get("REEMPLOI_SSH_KEY", "~/.ssh/id_ed25519")).expanduser()
    try:
        pkey = paramiko.PKey.from_path(str(key_path))
    except (OSError, paramiko.SSHException) as error:
        _fail(error)
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    options = deploy.Options(pkey=pkey, actor=f"cli:{user}")
    try:
        finished = _run(deploy.deploy(image_name, profile, parsed, options))
    except (DomainError, TagError) as error:
        _fail(error)
    for job in finished:
        status = "réussi" if job["status"] == "passed" else f"échec : {job['reason']}"
        click.echo(f"{job['asset_tag']} ({job['target']}) : {status}")
    if any(job["status"] != "passed" for job in finished):
        sys.exit(1)


@main.command(
    help="Tâche quotidienne : prêts en retard et séances à planifier, envoyés par courriel si "
    "REEMPLOI_SMTP_HOST et REEMPLOI_REMINDER_TO sont définis."
)
@click.option("--dry-run", is_flag=True, help="Afficher les rappels sans envoyer de courriel.")
def reminders(dry_run: bool) -> None:
    from datetime import date

    from inventory.errors import Invalid
    from loans import reminders as daily

    digest = _run(daily.digest(date.today()))
    click.echo(daily.message_text(digest), nl=False)
    try:
        sent = not dry_run and daily.send(digest)
    except Invalid as error:  # SMTP settings or server: a sentence, not a traceback
        _fail(error)
    if sent:
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


@main.command(
    help="Auto-contrôle : vérifie chaque invariant sur toute la base et le dossier des données, "
    "une phrase par anomalie ; code de sortie 1 s'il y en a."
)
def check() -> None:
    from inventory.errors import DomainError
    from web.selfcheck import audit

    try:
        violations = _run(audit())
    except DomainError as error:
        _fail(error)
    for violation in violations:
        click.echo(violation.sentence)
    if violations:
        click.echo(f"{len(violations)} anomalie(s).", err=True)
        sys.exit(1)
    click.echo("Aucune anomalie.")


@main.group(help="Rapports : financeurs (anonymisé), donateurs, données ouvertes par commune.")
def report() -> None:
    pass


def _day(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"date attendue au format AAAA-MM-JJ : {value}") from None


@report.command("funder", help="Rapport d'un programme (ou de tous) sur une période, anonymisé.")
@click.option("--programme", default="all", help="Numéro ou nom du programme, ou « all ».")
@click.option("--from", "start", required=True, help="Début de la période (AAAA-MM-JJ).")
@click.option("--to", "end", required=True, help="Fin de la période, incluse (AAAA-MM-JJ).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "csv", "xlsx"]), default="pdf")
@click.option("--threshold", type=int, default=None, help="Seuil de secret (défaut : 5).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_funder(
    programme: str, start: str, end: str, fmt: str, threshold: int | None, out: Path
) -> None:
    from inventory.errors import DomainError
    from loans.reports import funder, render
    from loans.tables import Programme

    async def build() -> bytes:
        programme_id = None
        if programme != "all":
            column = Programme.id if programme.isdigit() else Programme.name
            value = int(programme) if programme.isdigit() else programme
            row = await Programme.select(Programme.id).where(column == value).first()
            if row is None:
                raise DomainError(f"Programme inconnu : {programme}")
            programme_id = row["id"]
        computed = await funder.funder_report(
            programme_id, _day(start), _day(end), threshold=threshold
        )
        return render.render(computed, fmt)

    try:
        content = _run(build())
    except DomainError as error:
        _fail(error)
    out.write_bytes(content)
    click.echo(f"Rapport écrit dans {out} ({len(content)} octets).")


@report.command("donor", help="Devenir des appareils d'un donateur (PDF) ou lot des certificats.")
@click.option("--donor", "donor_id", type=int, required=True, help="Numéro du donateur.")
@click.option("--bundle", is_flag=True, help="Archive ZIP : rapport et certificats des dons.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_donor(donor_id: int, bundle: bool, out: Path) -> None:
    from inventory.errors import DomainError
    from loans.reports import donor
    from web.settings import base_url

    async def build() -> bytes:
        if bundle:
            return await donor.certificate_bundle(donor_id, base_url())
        return donor.donor_pdf(await donor.donor_report(donor_id, base_url()))

    try:
        content = _run(build())
    except DomainError as error:
        _fail(error)
    out.write_bytes(content)
    click.echo(f"Rapport écrit dans {out} ({len(content)} octets).")


@report.command("opendata", help="Données ouvertes : agrégats anonymisés par commune (CSV).")
@click.option("--from", "start", required=True, help="Début de la période (AAAA-MM-JJ).")
@click.option("--to", "end", required=True, help="Fin de la période, incluse (AAAA-MM-JJ).")
@click.option("--threshold", type=int, default=None, help="Seuil de secret (défaut : 5).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_opendata(start: str, end: str, threshold: int | None, out: Path) -> None:
    from inventory.errors import DomainError
    from loans.reports import opendata

    try:
        rows = _run(opendata.per_commune(_day(start), _day(end)))
    except DomainError as error:
        _fail(error)
    out.write_bytes(opendata.to_csv(rows, threshold))
    click.echo(f"{len(rows)} communes écrites dans {out}.")
