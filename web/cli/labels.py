"""Printing labels.

The options become the print command (`labels.service.LabelRequest`) through
`inventory.commands.build`: a bad value is refused with the same sentence as the label page's.
"""

from __future__ import annotations

from pathlib import Path

import click

from inventory.commands import build
from inventory.errors import DomainError
from inventory.tags import TagError
from labels.service import LabelRequest, print_labels
from web.cli.base import fail, main, run_async
from web.settings import base_url


@main.command(help="Imprimer les étiquettes d'un don ou d'une liste d'appareils dans un PDF.")
@click.option("--donation", help="Numéro du don dont on imprime toutes les étiquettes.")
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
    default="1",
    show_default=True,
    help="Première position libre sur une planche entamée (comptée ligne par ligne).",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF à écrire."
)
def label(donation: str | None, tags: str | None, stock: str, start: str, out: Path) -> None:
    values = {"donation": donation, "tags": tags, "stock": stock, "start": start}
    try:
        command = build(
            LabelRequest, {k: v for k, v in values.items() if v not in (None, "")}, strict=False
        )
        pdf = run_async(print_labels(command, base_url()))
    except (DomainError, TagError) as error:
        fail(error)
    out.write_bytes(pdf)
    click.echo(f"Étiquettes écrites : {out}")
