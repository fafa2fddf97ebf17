"""The bench station: wipe every disk plugged in, show it on a status screen, report to the API.

Nobody types a device path: disks announced by the kernel (pyudev) are identified, refused if
they are this machine's own or not allowed, and wiped one thread each. The server keeps the
records and signs the certificates; the station only holds a bearer token.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import httpx
import msgspec

from provisioning import discovery, job
from provisioning.records import Heartbeat, Media, Outcome, RecordStart, Runner
from provisioning.tables import MethodType, VerifyMode

CLEAR_SCREEN = "\x1b[H\x1b[2J"
# A finish is retried for less than the silence after which the server settles a record
# (records.STALE_AFTER, 5 min): a blip at the end of a long wipe never costs its certificate.
FINISH_RETRY_SECONDS = 240.0
RETRY_FIRST_DELAY, RETRY_MAX_DELAY = 0.5, 15.0


class ApiError(Exception):
    """The server refused or could not be reached; the message comes from its answer."""


class ApiReporter:
    """Records written through the server's API with the station's bearer token."""

    def __init__(
        self, server: str, token: str, runner: Runner, *, retry_for: float = FINISH_RETRY_SECONDS
    ) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.runner = runner
        self.retry_for = retry_for

    async def _post(
        self, path: str, body: dict[str, Any], *, retry_for: float = 0.0
    ) -> dict[str, Any]:
        """POST to the sanitization API; network errors are retried with backoff for
        `retry_for` seconds (only where the server answers a repeat with the same result)."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + retry_for, RETRY_FIRST_DELAY
        while True:
            try:
                async with httpx.AsyncClient(timeout=60) as client:
                    response = await client.post(
                        f"{self.server}/api/v1/sanitization{path}", json=body, headers=self.headers
                    )
                break
            except httpx.TransportError as error:
                if loop.time() + delay > deadline:
                    raise ApiError(f"Serveur injoignable : {error}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
            except httpx.HTTPError as error:
                raise ApiError(f"Serveur injoignable : {error}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(f"Le serveur refuse ({response.status_code}) : {detail}")
        return response.json()

    async def start(
        self, media: Media, method_type: MethodType, verification_method: str, tag: str | None
    ) -> dict[str, Any]:
        command = RecordStart.opening(
            media,
            self.runner,
            method_type=method_type,
            verification_method=verification_method,
            tag=tag,
        )
        return await self._post("/records", msgspec.to_builtins(command))

    async def heartbeat(self, record_id: int, progress_bytes: int) -> None:
        body = msgspec.to_builtins(Heartbeat(progress_bytes=max(0, progress_bytes)))
        await self._post(f"/records/{record_id}/heartbeat", body)

    async def finish(self, record_id: int, outcome: Outcome) -> dict[str, Any]:
        """Close the record; a lost answer is asked again (the server answers a repeated
        finish with the first result), within the time before it would settle the record."""
        body = msgspec.to_builtins(outcome)
        return await self._post(f"/records/{record_id}/finish", body, retry_for=self.retry_for)


class StationOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The command that starts a bench station (`reemploi station`): the server it reports to,
    its token, the method applied to every disk plugged in, and its name."""

    field_labels: ClassVar[dict[str, str]] = {
        "server": "Serveur",
        "token": "Jeton",
        "method": "Méthode",
        "verify": "Relecture",
        "allow_loop": "Dossier des périphériques loop",
        "wipe_present": "Effacer les disques déjà branchés",
        "name": "Nom du poste",
    }

    server: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+", max_length=300)]
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    method: MethodType = MethodType.clear
    verify: VerifyMode = VerifyMode.full
    allow_loop: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None
    wipe_present: bool = False


@dataclass
class Bay:
    """One disk on the bench and what happens to it."""

    identity: discovery.DiskIdentity
    live: job.LiveProgress
    state: str = "en attente"
    result: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class Station:
    def __init__(self, options: StationOptions) -> None:
        self.options = options
        self.server, self.token = options.server, options.token
        self.method, self.verify = options.method, options.verify
        self.allow_loop = Path(options.allow_loop) if options.allow_loop else None
        self.runner = Runner(operator=f"station:{options.name}", station=options.name)
        self.bays: dict[str, Bay] = {}
        self.log: list[str] = []
        self.stopping = threading.Event()
        self.screen = sys.stdout.isatty()
        self.lock = threading.Lock()

    def say(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        with self.lock:
            self.log = (self.log + [line])[-12:]
        if not self.screen:
            print(line, flush=True)

    def draw(self) -> None:
        """The status screen: one line per disk, then the latest messages."""
        if not self.screen:
            return
        lines = [f"Réemploi — poste d'effacement {self.runner.station} ({self.method})", ""]
        for name, bay in sorted(self.bays.items()):
            who = f"{bay.identity.model} {bay.identity.serial}".strip()
            progress = job.describe(bay.live) if bay.state == "effacement" else bay.result
            lines.append(f"{name:<10} {who[:40]:<40} {bay.state:<12} {progress}")
        if not self.bays:
            lines.append("Branchez un disque : il sera effacé automatiquement.")
        lines += ["", *self.log]
        sys.stdout.write(CLEAR_SCREEN + "\n".join(lines) + "\n")
        sys.stdout.flush()

    def arrive(self, name: str, path: str) -> None:
        refused = discovery.refusal(name, self.allow_loop)
        if refused:
            self.say(f"{name} ignoré : {refused}")
            return
        current = self.bays.get(name)
        if current and current.thread and current.thread.is_alive():
            return
        try:
            identity = discovery.identify(path)
        except (OSError, ValueError) as error:
            self.say(f"{name} illisible : {error}")
            return
        bay = Bay(identity=identity, live=job.LiveProgress(total=identity.size_bytes))
        self.bays[name] = bay
        for warning in identity.warnings:
            self.say(f"{name} : {warning}")
        self.say(
            f"{name} détecté : {identity.model} {identity.serial} "
            f"({identity.size_bytes / 1e9:.1f} Go) — effacement {self.method}"
        )
        bay.thread = threading.Thread(target=self._work, args=(name, bay), daemon=True)
        bay.thread.start()

    def _work(self, name: str, bay: Bay) -> None:
        reporter = ApiReporter(self.server, self.token, self.runner)
        bay.state = "effacement"
        try:
            record = asyncio.run(
                job.run_wipe(
                    bay.identity, reporter, method=self.method, verify=self.verify,
                    stop=bay.stop, live=bay.live,
                )
            )  # fmt: skip
        except ApiError as error:
            bay.state, bay.result = "refusé", str(error)
            self.say(f"{name} : {error}")
            return
        except Exception as error:  # the bench goes on with the other disks
            bay.state, bay.result = "erreur", str(error)
            self.say(f"{name} : erreur {error}")
            return
        if record["status"] == "passed":
            bay.state = "effacé"
            bay.result = f"certificat {record['certificate_id']}"
            self.say(f"{name} effacé ({record['method_type']}) : {bay.result}")
        else:
            bay.state = "échec" if record["status"] == "failed" else "interrompu"
            bay.result = record["reason"]
            self.say(f"{name} {bay.state} : {record['reason']}")

    def leave(self, name: str) -> None:
        bay = self.bays.get(name)
        if bay is None:
            return
        if bay.thread and bay.thread.is_alive():
            self.say(f"{name} retiré pendant l'effacement.")
        else:
            self.say(f"{name} retiré.")
            del self.bays[name]

    def run(self) -> int:
        """Watch the bench until SIGTERM or Ctrl-C; running wipes are closed as interrupted."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        events = discovery.watch(timeout=1.0)
        self.say(f"Poste prêt, serveur {self.server}.")
        if self.options.wipe_present:
            for disk in discovery.list_disks(self.allow_loop):
                self.arrive(disk.name, disk.path)
        while not self.stopping.is_set():
            event = next(events)
            if event is not None and event.action == "add":
                self.arrive(event.name, event.path)
            elif event is not None:
                self.leave(event.name)
            self.draw()
        for bay in self.bays.values():
            bay.stop.set()
        for bay in self.bays.values():
            if bay.thread:
                bay.thread.join(timeout=60)
        self.say("Poste arrêté.")
        self.draw()
        return 0
