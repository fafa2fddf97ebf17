"""System images: adding, listing, live system host keys, deployment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from web.cli.base import fail, main, run_async


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
        row = run_async(images.add_image(name, raw, version=version, actor=f"cli:{user}"))
    except DomainError as error:
        fail(error)
    click.echo(
        f"Image {row['name']} {row['version']} : {row['size_bytes']} octets, "
        f"{row['mapped_bytes']} utiles en {row['range_count']} plages, "
        f"{row['compressed_bytes']} compressés ; carte {row['map_sha256']}"
    )


@image.command("list", help="Lister les images : taille, taille utile, version, empreinte.")
def image_list() -> None:
    from provisioning.imaging import images

    for row in run_async(images.list_images()):
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
        fail(error)
    seen = hostkeys.fingerprint(key)
    if fingerprint is not None and fingerprint.strip() != seen:
        fail(ValueError(f"la machine présente {seen}, pas {fingerprint} : rien n'est inscrit."))
    if fingerprint is None and not click.confirm(f"Empreinte présentée : {seen}. L'inscrire ?"):
        sys.exit(1)
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    try:
        run_async(
            hostkeys.enrol(
                hostkeys.ANY_HOST if all_hosts else host, key, port=port, actor=f"cli:{user}"
            )
        )
    except DomainError as error:
        fail(error)
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
        fail(error)
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    options = deploy.Options(pkey=pkey, actor=f"cli:{user}")
    try:
        finished = run_async(deploy.deploy(image_name, profile, parsed, options))
    except (DomainError, TagError) as error:
        fail(error)
    for job in finished:
        status = "réussi" if job["status"] == "passed" else f"échec : {job['reason']}"
        click.echo(f"{job['asset_tag']} ({job['target']}) : {status}")
    if any(job["status"] != "passed" for job in finished):
        sys.exit(1)
