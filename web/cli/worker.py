"""The deployment worker: `reemploi worker` runs the jobs the web application queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from provisioning.imaging import worker as imaging_worker
from web.cli.base import main


async def _serve(concurrency: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await imaging_worker.serve(stop, concurrency=concurrency)


@main.command(
    help=(
        "Lancer le worker : il prend dans la base les déploiements en attente et les exécute "
        "(à lancer à côté du serveur ; plusieurs workers se partagent les tâches)."
    )
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Déploiements menés en même temps par ce worker.",
)
def worker(concurrency: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_serve(concurrency))
