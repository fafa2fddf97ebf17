"""System images: adding, listing, live system host keys, deployment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import msgspec

from inventory.commands import build
from inventory.errors import DomainError, FieldInvalid
from inventory.tags import TagError
from provisioning.imaging import catalogue, deploy, hostkeys, images
from provisioning.imaging.catalogue import ImageAdd, ImageExport
from provisioning.imaging.deploy import DeploymentIn, TargetIn, parse_target
from provisioning.imaging.transport import fetch_host_key
from web.cli.base import fail, main, run_async


def _user() -> str:
    """Who runs the command, for the audit trail (the login behind sudo)."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"


@main.group(help="Images système : ajout, liste, clés d'hôte du système live, déploiement.")
def image() -> None:
    pass


_COMPRESSED = (".zst", ".gz", ".gzip", ".xz", ".bz2")


def _image_name(path: Path) -> str:
    """debian-12.img.zst -> debian-12: the name an image takes from its file by default."""
    name = path.name
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return name.removesuffix(".img") or name


@image.command(
    "add",
    help="Ajouter une image : compresse ses plages utiles (zstd) et sa carte. "
    "Image brute : reemploi image add NOM --from debian.img. Image décrite par bmaptool : "
    "reemploi image add --bmap debian.bmap debian.img.zst (brute, .zst, .gz, .xz ou .bz2 ; "
    "chaque empreinte de la carte est vérifiée, rien n'est enregistré si l'une diffère).",
)
@click.argument("target", metavar="NOM|IMAGE")
@click.option(
    "--from",
    "raw",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Image disque (par exemple debian.img) ; alors l'argument est le nom de l'image.",
)
@click.option(
    "--bmap",
    "bmap_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Carte bmap 2.0 (bmaptool create) décrivant l'image ; sans --from, l'argument est "
    "l'image elle-même.",
)
@click.option(
    "--name", "given_name", help="Nom de l'image (avec --bmap ; par défaut, son fichier)."
)
@click.option("--version", "version", default="1", show_default=True, help="Version de l'image.")
def image_add(
    target: str, raw: Path | None, bmap_file: Path | None, given_name: str | None, version: str
) -> None:
    if raw is None and bmap_file is None:
        raise click.UsageError("Indiquez l'image brute avec --from, ou sa carte avec --bmap.")
    if raw is None:
        raw = Path(target)
        if not raw.is_file():
            raise click.BadParameter(f"Image introuvable : {target}", param_hint="IMAGE")
        name = given_name or _image_name(raw)
    else:
        name = target
    values = {"name": name, "file": raw.name, "version": version}
    if bmap_file is not None:
        values["bmap"] = bmap_file.name
    try:
        command = build(ImageAdd, values, strict=False)
        row = run_async(
            images.add_image(
                command.name,
                raw,
                version=command.version,
                actor=f"cli:{_user()}",
                bmap_file=bmap_file,
            )
        )
    except DomainError as error:
        fail(error)
    click.echo(
        f"Image {row['name']} {row['version']} : {row['size_bytes']} octets, "
        f"{row['mapped_bytes']} utiles en {row['range_count']} plages, "
        f"{row['compressed_bytes']} compressés ; carte {row['map_sha256']}"
    )


@image.command(
    "export",
    help="Écrire NOM.img.zst et NOM.bmap dans DOSSIER, pour bmaptool : "
    "bmaptool copy DOSSIER/NOM.img.zst /dev/sdX (la carte est trouvée à côté).",
)
@click.argument("name", metavar="NOM")
@click.argument(
    "folder",
    metavar="DOSSIER",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def image_export(name: str, folder: Path) -> None:
    try:
        command = build(ImageExport, {"name": name, "folder": str(folder)}, strict=False)
        data_file, map_file = run_async(catalogue.export(command))
    except DomainError as error:
        fail(error)
    click.echo(f"Image écrite : {data_file}\nCarte bmap : {map_file}")


@image.command("list", help="Lister les images : taille, taille utile, version, empreinte.")
def image_list() -> None:
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
    try:
        key = fetch_host_key(host, port)
    except OSError as error:
        fail(error)
    seen = hostkeys.fingerprint(key)
    if fingerprint is not None and fingerprint.strip() != seen:
        fail(ValueError(f"la machine présente {seen}, pas {fingerprint} : rien n'est inscrit."))
    if fingerprint is None and not click.confirm(f"Empreinte présentée : {seen}. L'inscrire ?"):
        sys.exit(1)
    try:
        run_async(
            hostkeys.enrol(
                hostkeys.ANY_HOST if all_hosts else host, key, port=port, actor=f"cli:{_user()}"
            )
        )
    except DomainError as error:
        fail(error)
    click.echo(f"Clé inscrite : {seen}")


def _parse_target(text: str) -> TargetIn:
    try:
        return parse_target(text)
    except FieldInvalid as error:
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
    help="Clé privée SSH de l'atelier (par défaut $REEMPLOI_SSH_KEY ou ssh/id_ed25519 dans le "
    "dossier de données, comme le serveur).",
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in deploy.Mode]),
    default=deploy.Mode.auto.value,
    show_default=True,
    help="chained : le serveur envoie au premier PC, chaque PC écrit et transmet au suivant sur "
    "le réseau de l'atelier ; unicast : le serveur envoie à chaque PC ; auto : en chaîne dès "
    "deux PC.",
)
@click.argument("targets", nargs=-1, required=True)
def image_deploy(
    image_name: str, profile: str, key: Path | None, mode: str, targets: tuple[str, ...]
) -> None:
    parsed = [_parse_target(t) for t in targets]
    try:
        command = build(
            DeploymentIn,
            {
                "image": image_name,
                "profile": profile,
                "targets": [msgspec.structs.asdict(t) for t in parsed],
                "mode": mode,
            },
            strict=False,
        )
        pkey = deploy.workshop_key(key)
    except DomainError as error:
        fail(error)
    options = deploy.Options(pkey=pkey, actor=f"cli:{_user()}")
    try:
        finished = run_async(
            deploy.deploy(
                command.image, command.profile, list(command.targets), options, command.mode
            )
        )
    except (DomainError, TagError) as error:
        fail(error)
    for job in finished:
        status = "réussi" if job["status"] == "passed" else f"échec : {job['reason']}"
        click.echo(f"{job['asset_tag']} ({job['target']}) : {status}")
    if any(job["status"] != "passed" for job in finished):
        sys.exit(1)
