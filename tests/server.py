"""Run the real server (`reemploi serve`, uvicorn) in a subprocess for tests over HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    """Poll /healthz until the server answers; fail with its error output if it dies or hangs."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            errors = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise RuntimeError(f"server did not start: {errors}")
        time.sleep(0.2)


@contextmanager
def running_server(
    workers: int = 2, *, log: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`reemploi serve` on a free port, in `env` (default: this process's environment); its
    output goes to `log` when given, for tests that read it."""
    port = free_port()
    reemploi = Path(sys.executable).parent / "reemploi"
    environment = {**(os.environ if env is None else env), "REEMPLOI_DB_POOL": "1"}
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(log.open("wb")) if log else None
        process = subprocess.Popen(
            [str(reemploi), "serve", "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=sink or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if sink else subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # Graceful shutdown waits on lingering connections; the test is over.
                process.kill()
                process.wait(timeout=15)
