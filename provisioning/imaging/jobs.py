"""Deployment jobs: their rows, their claim by a worker, and their live progress.

A job is created `queued` (the web process only enqueues); a worker claims it with one
conditional UPDATE (`WHERE status = 'queued'`), so two workers never take the same job on SQLite
or PostgreSQL. The worker then refreshes `heartbeat_at` every few seconds; a running job whose
heartbeat is stale, or whose worker process is gone, is taken back: queued again when it can
restart safely, failed with a reason otherwise. Every status change writes its
`DeploymentEvent` in the same transaction.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from inventory.clock import now
from inventory.db import write_transaction
from inventory.errors import NotFound
from inventory.states import N_
from provisioning.imaging.tables import DeploymentEvent, DeploymentJob, JobStatus

PHASES = {
    "connect": N_("Connexion"),
    "inventory": N_("Inventaire matériel"),
    "wipe": N_("Effacement"),
    "disk": N_("Choix du disque"),
    "transfer": N_("Écriture des plages"),
    "verify": N_("Vérification des plages"),
    "finish": N_("Table de partitions et personnalisation"),
    "record": N_("Enregistrement"),
    "done": N_("Terminé"),
}
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 3
# Restarting from the start is safe there: the image is written again and every range re-read.
# A wipe (its record and certificate) or the recording of the result are not restarted blindly.
RESUMABLE_PHASES = {"", "connect", "inventory", "disk", "transfer", "verify", "finish"}
INTERRUPTED = {
    "wipe": (
        "interrompu : le serveur s'est arrêté pendant l'effacement du disque ; aucun certificat "
        "n'est émis, relancez le déploiement"
    ),
    "record": (
        "interrompu : le serveur s'est arrêté pendant l'enregistrement du résultat ; vérifiez la "
        "fiche de l'appareil, puis relancez le déploiement"
    ),
}
TOO_MANY = (
    "interrompu : le serveur s'est arrêté pendant le déploiement, {count} fois de suite ; "
    "relancez-le quand le serveur est stable"
)
RESUMED = "repris : le serveur s'est arrêté pendant le déploiement (étape « {phase} »)"


class JobStep(msgspec.Struct):
    """One phase the job entered, when, with its detail (disk, ranges verified…)."""

    phase: str
    at: str
    detail: str = ""


class JobOut(msgspec.Struct):
    """A deployment job as the API shows it (`phase_label`: the phase in words)."""

    id: int
    asset_tag: str
    target: str
    disk: str
    image: str
    profile: str
    status: str
    phase: str
    phase_label: str
    reason: str
    bytes_done: int
    bytes_total: int
    rate: float
    eta_seconds: float
    steps: list[JobStep]
    created_at: datetime
    finished_at: datetime | None
    attempts: int = 0
    chain: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobOut:
        fields = {f: row[f] for f in cls.__struct_fields__ if f not in ("phase_label", "steps")}
        return cls(
            **fields,
            phase_label=PHASES.get(row["phase"]) or row["phase"],
            steps=msgspec.convert(row["steps"] or [], list[JobStep]),
        )


def _process_start(pid: int) -> int:
    """The start time of a process in clock ticks (field 22 of /proc/PID/stat), or 0."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def worker_name(kind: str = "worker") -> str:
    """This process's name as a claimant: `kind@host/pid/start/random` (unique per instance)."""
    pid = os.getpid()
    host = socket.gethostname()[:60]
    return f"{kind}@{host}/{pid}/{_process_start(pid)}/{secrets.token_hex(3)}"


def worker_gone(name: str) -> bool:
    """True when `name` is a process of this machine that no longer runs (killed, restarted)."""
    try:
        _, rest = name.split("@", 1)
        host, pid, start, _ = rest.rsplit("/", 3)
    except ValueError:
        return False
    if host != socket.gethostname()[:60] or not pid.isdigit() or not start.isdigit():
        return False
    if int(start) == 0:  # no /proc when it was named: only its heartbeat tells
        return False
    return _process_start(int(pid)) != int(start)


@dataclass
class Progress:
    """Written by the job's thread, read by the loop that saves it; a lock keeps it coherent."""

    phase: str = "connect"
    bytes_done: int = 0
    bytes_total: int = 0
    started: float = field(default_factory=time.monotonic)
    transfer_started: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, phase: str, detail: str = "") -> None:
        with self.lock:
            self.phase = phase
            if phase == "transfer":
                self.transfer_started = time.monotonic()
            self.steps.append(
                {"phase": phase, "at": now().isoformat(timespec="milliseconds"), "detail": detail}
            )

    def sent(self, count: int) -> None:
        with self.lock:
            self.bytes_done += count

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            elapsed = time.monotonic() - (self.transfer_started or time.monotonic())
            rate = self.bytes_done / elapsed if elapsed > 0.2 else 0.0
            left = max(self.bytes_total - self.bytes_done, 0)
            return {
                "phase": self.phase,
                "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total,
                "rate": rate,
                "eta_seconds": left / rate if rate else 0.0,
                "steps": list(self.steps),
            }


async def _event(job_id: int, status: JobStatus, worker: str = "", reason: str = "") -> None:
    """The status change's event; callers run it in the transaction of the change."""
    await DeploymentEvent.insert(
        DeploymentEvent(job=job_id, at=now(), status=status, worker=worker, reason=reason)
    )


async def create(
    *,
    device_id: int | None,
    tag: str,
    target: str,
    disk: str,
    image: str,
    profile: str,
    actor: str,
    worker: str = "",
    chain: str = "",
) -> int:
    """A queued job; with `worker`, already claimed by that process (the CLI runs its own);
    `chain` names the chained deployment it belongs to."""
    at = now()
    async with write_transaction(DeploymentJob):
        rows = await DeploymentJob.insert(
            DeploymentJob(
                device=device_id,
                asset_tag=tag,
                target=target,
                disk=disk,
                image=image,
                profile=profile,
                status=JobStatus.running if worker else JobStatus.queued,
                created_at=at,
                started_at=at if worker else None,
                actor=actor,
                worker=worker,
                heartbeat_at=at if worker else None,
                attempts=1 if worker else 0,
                chain=chain,
            )
        ).returning(DeploymentJob.id)
        job_id = rows[0]["id"]
        await _event(job_id, JobStatus.queued, reason=actor)
        if worker:
            await _event(job_id, JobStatus.running, worker)
    return job_id


async def claim(job_id: int, worker: str) -> bool:
    """Take a queued job for `worker`; False when another worker took it first."""
    at = now()
    async with write_transaction(DeploymentJob):
        job = (
            await DeploymentJob.select(DeploymentJob.attempts, DeploymentJob.started_at)
            .where((DeploymentJob.id == job_id) & (DeploymentJob.status == JobStatus.queued))
            .first()
        )
        if job is None:
            return False
        taken = await (
            DeploymentJob.update(
                {
                    DeploymentJob.status: JobStatus.running,
                    DeploymentJob.worker: worker,
                    DeploymentJob.heartbeat_at: at,
                    DeploymentJob.started_at: job["started_at"] or at,
                    DeploymentJob.attempts: job["attempts"] + 1,
                }
            )
            .where((DeploymentJob.id == job_id) & (DeploymentJob.status == JobStatus.queued))
            .returning(DeploymentJob.id)
        )
        if not taken:
            return False
        await _event(job_id, JobStatus.running, worker)
    return True


async def claim_chain(job_id: int, worker: str) -> list[int]:
    """`job_id` (which `worker` holds) and the queued jobs of its chain `worker` claims too, in
    chain order; just `[job_id]` for a unicast job."""
    row = await DeploymentJob.select(DeploymentJob.chain).where(DeploymentJob.id == job_id).first()
    if row is None or not row["chain"]:
        return [job_id]
    mates = await (
        DeploymentJob.select(DeploymentJob.id)
        .where((DeploymentJob.chain == row["chain"]) & (DeploymentJob.status == JobStatus.queued))
        .order_by(DeploymentJob.id)
    )
    return sorted([job_id] + [m["id"] for m in mates if await claim(m["id"], worker)])


async def queued_ids(limit: int = 20) -> list[int]:
    rows = (
        await DeploymentJob.select(DeploymentJob.id)
        .where(DeploymentJob.status == JobStatus.queued)
        .order_by(DeploymentJob.id)
        .limit(limit)
    )
    return [row["id"] for row in rows]


async def heartbeat(worker: str) -> set[int]:
    """Refresh the heartbeat of `worker`'s running jobs; the ids it still holds."""
    rows = await (
        DeploymentJob.update({DeploymentJob.heartbeat_at: now()})
        .where((DeploymentJob.worker == worker) & (DeploymentJob.status == JobStatus.running))
        .returning(DeploymentJob.id)
    )
    return {row["id"] for row in rows}


async def save(job_id: int, progress: Progress, worker: str = "", **fields: Any) -> None:
    """Save the progress (and `fields`) of a job `worker` still holds."""
    snap = progress.snapshot()
    values = {getattr(DeploymentJob, k): v for k, v in {**snap, **fields}.items()}
    where = DeploymentJob.id == job_id
    if worker:
        where = where & (DeploymentJob.worker == worker)
    await DeploymentJob.update(values).where(where)


async def finish(
    job_id: int, progress: Progress, worker: str, status: JobStatus, reason: str = ""
) -> bool:
    """End a running job held by `worker` with its event; False if it was taken back."""
    snap = progress.snapshot()
    values = {getattr(DeploymentJob, k): v for k, v in snap.items()}
    values |= {
        DeploymentJob.status: status,
        DeploymentJob.reason: reason,
        DeploymentJob.finished_at: now(),
    }
    async with write_transaction(DeploymentJob):
        done = await (
            DeploymentJob.update(values)
            .where(
                (DeploymentJob.id == job_id)
                & (DeploymentJob.worker == worker)
                & (DeploymentJob.status == JobStatus.running)
            )
            .returning(DeploymentJob.id)
        )
        if not done:
            return False
        await _event(job_id, status, worker, reason)
    return True


def _stale(job: dict[str, Any], cutoff: datetime) -> bool:
    if worker_gone(job["worker"]):
        return True
    beat = job["heartbeat_at"] or job["started_at"]
    return beat is None or beat < cutoff


async def take_back(stale_after: timedelta = STALE_AFTER, by: str = "", of: str = "") -> list[int]:
    """Queue again, or fail with a reason, every running job whose worker is gone or silent;
    with `of`, every running job of that worker (which stops)."""
    cutoff = now() - stale_after
    running = await DeploymentJob.select(
        DeploymentJob.id,
        DeploymentJob.worker,
        DeploymentJob.heartbeat_at,
        DeploymentJob.started_at,
        DeploymentJob.phase,
        DeploymentJob.attempts,
    ).where(DeploymentJob.status == JobStatus.running)
    taken = []
    for job in running:
        if (of and job["worker"] != of) or (not of and not _stale(job, cutoff)):
            continue
        phase = job["phase"] or ""
        if job["attempts"] >= MAX_ATTEMPTS:
            status, reason = JobStatus.failed, TOO_MANY.format(count=job["attempts"])
        elif phase not in RESUMABLE_PHASES:
            status = JobStatus.failed
            reason = INTERRUPTED.get(
                phase, "interrompu : le serveur s'est arrêté pendant le déploiement"
            )
        else:
            status, reason = JobStatus.queued, RESUMED.format(phase=PHASES.get(phase, phase))
        values: dict[Any, Any] = {DeploymentJob.status: status, DeploymentJob.worker: ""}
        if status == JobStatus.failed:
            values |= {DeploymentJob.reason: reason, DeploymentJob.finished_at: now()}
        async with write_transaction(DeploymentJob):
            # Still the silent worker's: one that heartbeat meanwhile keeps its job.
            where = (
                (DeploymentJob.id == job["id"])
                & (DeploymentJob.status == JobStatus.running)
                & (DeploymentJob.worker == job["worker"])
            )
            if not of and not worker_gone(job["worker"]) and job["heartbeat_at"] is not None:
                where = where & (DeploymentJob.heartbeat_at < cutoff)
            done = await DeploymentJob.update(values).where(where).returning(DeploymentJob.id)
            if done:
                await _event(job["id"], status, by, reason)
                taken.append(job["id"])
    return taken


async def get(job_id: int) -> dict[str, Any]:
    row = (
        await DeploymentJob.select()
        .where(DeploymentJob.id == job_id)
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound(f"Déploiement {job_id} inconnu.")
    return row


async def events(job_id: int) -> list[dict[str, Any]]:
    """A job's status changes, oldest first."""
    return (
        await DeploymentEvent.select()
        .where(DeploymentEvent.job == job_id)
        .order_by(DeploymentEvent.id)
    )


async def recent(limit: int = 100) -> list[dict[str, Any]]:
    return (
        await DeploymentJob.select()
        .order_by(DeploymentJob.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
