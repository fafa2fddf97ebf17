"""Deployment jobs: their rows, and the live progress (phase, bytes, rate, ETA) of each."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inventory.errors import NotFound
from inventory.states import N_
from provisioning.imaging.tables import DeploymentJob, JobStatus

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


def now() -> datetime:
    return datetime.now(UTC)


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


async def create(
    *, device_id: int | None, tag: str, target: str, disk: str, image: str, profile: str, actor: str
) -> int:
    rows = await DeploymentJob.insert(
        DeploymentJob(
            device=device_id,
            asset_tag=tag,
            target=target,
            disk=disk,
            image=image,
            profile=profile,
            status=JobStatus.queued,
            created_at=now(),
            actor=actor,
        )
    ).returning(DeploymentJob.id)
    return rows[0]["id"]


async def save(job_id: int, progress: Progress, **fields: Any) -> None:
    snap = progress.snapshot()
    values = {getattr(DeploymentJob, k): v for k, v in {**snap, **fields}.items()}
    await DeploymentJob.update(values).where(DeploymentJob.id == job_id)


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


async def recent(limit: int = 100) -> list[dict[str, Any]]:
    return (
        await DeploymentJob.select()
        .order_by(DeploymentJob.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
