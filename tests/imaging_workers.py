"""Deployment workers for the tests: in a thread of this process, or as real processes.

with worker_thread(options):          # Worker.run_forever on a loop of its own
with worker_process(lab, env) as p:   # `reemploi worker` in the lab's controller namespace
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit


@contextmanager
def worker_thread(options: Any = None, **settings: Any) -> Iterator[Any]:
    """A `Worker` claiming jobs on its own loop in a thread until the block ends."""
    from provisioning.imaging.worker import Worker

    worker = Worker(options, poll_seconds=0.2, **settings)
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        state["loop"] = asyncio.get_running_loop()
        state["stop"] = asyncio.Event()
        ready.set()
        await worker.run_forever(state["stop"])

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # shown by the test that joins
            state["error"] = error
            ready.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield worker
    finally:
        if "loop" in state:
            state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(60)
        if "error" in state:
            raise state["error"]


def reemploi() -> str:
    return str(Path(sys.executable).parent / "reemploi")


def database_in_namespace() -> dict[str, str]:
    """The database's address as seen from another network namespace: the test cluster of
    PostgreSQL listens on 127.0.0.1 of this one, and on a Unix socket that every one reaches."""
    url = os.environ.get("REEMPLOI_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return {}
    from piccolo.engine import engine_finder

    from tests.support import run

    engine = engine_finder()
    assert engine is not None
    rows = run(engine.run_ddl("SHOW unix_socket_directories"))
    assert rows
    folder = rows[0]["unix_socket_directories"].split(",")[0].strip()
    parts = urlsplit(url)
    query = urlencode({"host": folder, "port": parts.port or 5432})
    return {"REEMPLOI_DATABASE_URL": f"{parts.scheme}://{parts.username}@{parts.path}?{query}"}


def start_worker(netns: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`reemploi worker` as a real process; inside `netns` (the lab's controller) when given.
    `ip netns exec` executes the command itself: the process's pid is the worker's."""
    command = [reemploi(), "worker", "--concurrency", "4"]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
        env = {**env, **database_in_namespace()}
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
