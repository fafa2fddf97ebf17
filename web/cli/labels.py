"""Printing labels."""

from __future__ import annotations

from pathlib import Path

import click

from web.cli.base import fail, main, run_async


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
        pdf = run_async(
            labels_pdf(base_url=base_url(), stock=stock, donation=donation, tags=codes, start=start)
        )
    except (Invalid, NotFound, TagError) as error:
        fail(error)
    out.write_bytes(pdf)
    click.echo(f"Étiquettes écrites : {out}")
