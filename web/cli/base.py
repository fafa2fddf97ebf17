"""The `reemploi` group and what its commands share: running a coroutine, failing in French."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import click

from inventory.datadir import prepare, restrict_new_files

os.environ.setdefault("PICCOLO_CONF", "web.piccolo_conf")


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(error: Exception) -> NoReturn:
    click.echo(f"Erreur : {error}", err=True)
    sys.exit(2)


@click.group(help="Réemploi : collecte, effacement, installation, étiquettes et prêts de PC.")
def main() -> None:
    # Everything this process and its workers create (database, WAL, documents) is 0600/0700.
    restrict_new_files()


def check_data_dir() -> None:
    """Create the data folder 0700 and name, on stderr, every path others could read."""
    for warning in prepare():
        click.echo(warning, err=True)
