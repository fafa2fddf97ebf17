"""The deployment worker (`reemploi worker`): claims queued jobs from the database and runs them.

The web process only queues jobs. Any number of workers, on this machine or others, share them:
a job is claimed with a conditional UPDATE (`jobs.claim`), so it runs once. A worker refreshes
the heartbeat of its jobs every few seconds; at start and then regularly it takes back the
running jobs of a worker that is gone (a process of this machine that no longer runs) or silent
for longer than `jobs.STALE_AFTER`: queued again when restarting is safe, failed with a French
reason otherwise (`jobs.take_back`). A job it no longer holds (taken back meanwhile) is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Container
from datetime import timedelta
from typing import Any

from inventory.errors import Invalid
from provisioning import records
from provisioning.imaging import deploy, jobs
from provisioning.imaging.tables import JobStatus

log = logging.getLogger("reemploi.worker")
Runner = Callable[[int, str], Awaitable[None]]


class Worker:
    """One worker process's loop; `run_one` and `drain` serve tests and one-shot use."""

    def __init__(
        self,
        options: deploy.Options | None = None,
        *,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
        stale_after: timedelta = jobs.STALE_AFTER,
        runner: Runner | None = None,
        name: str = "",
    ):
        self.name = name or jobs.worker_name()
        self.options = options
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after
        self.runner = runner or self._deploy
        self.active: dict[int, asyncio.Task[None]] = {}
        # A chain's first claimed job -> every job of the chain claimed with it, run together.
        self.chains: dict[int, list[int]] = {}

    async def _deploy(self, job_id: int, worker: str) -> None:
        if self.options is None:
            try:
                # Read at the first job: a worker started before the key was installed waits.
                self.options = deploy.Options(pkey=deploy.workshop_key())
            except Invalid as error:
                await jobs.finish(job_id, jobs.Progress(), worker, JobStatus.failed, str(error))
                return
        chain = self.chains.get(job_id, [job_id])
        if len(chain) > 1:
            await deploy.run_claimed_chain(chain, worker, self.options)
        else:
            await deploy.run_claimed(job_id, worker, self.options)

    async def take_back(self) -> list[int]:
        """Settle the jobs (and SSH wipes) of workers that are gone or silent."""
        taken = await jobs.take_back(self.stale_after, by=self.name)
        if taken:
            log.warning("Déploiements repris ou clos après l'arrêt d'un worker : %s", taken)
            # An SSH wipe's record names the dead process: close it as interrupted.
            await records.settle_abandoned()
        return taken

    async def claim_next(self) -> int | None:
        """Claim the oldest queued job another worker has not taken; None when there is none."""
        for job_id in await jobs.queued_ids():
            if await jobs.claim(job_id, self.name):
                # Its chain's queued jobs are claimed at once, before another claim interleaves.
                self.chains[job_id] = await jobs.claim_chain(job_id, self.name)
                return job_id
        return None

    async def run_one(self) -> int | None:
        """Take back stale jobs, claim one queued job and run it to its end; its id, or None."""
        await self.take_back()
        job_id = await self.claim_next()
        if job_id is None:
            return None
        async with deploy.heartbeating(self.name, self._lost):
            self.active[job_id] = task = asyncio.create_task(self._run(job_id))
            try:
                await task
            finally:
                self.active.pop(job_id, None)
                self.chains.pop(job_id, None)
        return job_id

    async def drain(self) -> list[int]:
        """Run queued jobs, several at once, until none is left; the ids run."""
        done: list[int] = []
        await self.take_back()
        async with deploy.heartbeating(self.name, self._lost):
            while True:
                await self._fill()
                if not self.active:
                    return done
                finished, _ = await asyncio.wait(
                    list(self.active.values()), return_when=asyncio.FIRST_COMPLETED
                )
                done += [i for i, t in list(self.active.items()) if t in finished]
                self._forget(finished)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Claim and run jobs until `stop` is set (or the process is stopped)."""
        stop = stop or asyncio.Event()
        log.info("Worker %s prêt.", self.name)
        last_take_back = 0.0
        loop = asyncio.get_running_loop()
        async with deploy.heartbeating(self.name, self._lost):
            try:
                while not stop.is_set():
                    if loop.time() - last_take_back >= jobs.HEARTBEAT_SECONDS:
                        last_take_back = loop.time()
                        await self._guard(self.take_back())
                    await self._guard(self._fill())
                    waiters: list[asyncio.Future[Any]] = [*self.active.values()]
                    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
                    finished, _ = await asyncio.wait(
                        [*waiters, stopping],
                        timeout=self.poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    stopping.cancel()
                    self._forget(finished)
            finally:
                # Stopped: the jobs go back to the queue (or fail with their reason) first, so
                # that their cancelled runs write nothing more.
                if self.active:
                    await self._guard(jobs.take_back(by=self.name, of=self.name))
                for task in self.active.values():
                    task.cancel()
                await asyncio.gather(*self.active.values(), return_exceptions=True)

    async def _guard(self, work: Awaitable[object]) -> None:
        """A database hiccup (locked, restarting) is logged; the loop tries again later."""
        try:
            await work
        except Exception:
            log.exception("Worker %s : erreur, nouvel essai.", self.name)

    async def _fill(self) -> None:
        while len(self.active) < self.concurrency:
            job_id = await self.claim_next()
            if job_id is None:
                return
            log.info("Déploiement %s pris par %s.", job_id, self.name)
            self.active[job_id] = asyncio.create_task(self._run(job_id))

    async def _run(self, job_id: int) -> None:
        try:
            await self.runner(job_id, self.name)
        except Exception:
            log.exception("Déploiement %s : erreur imprévue.", job_id)
            await jobs.finish(
                job_id,
                jobs.Progress(),
                self.name,
                JobStatus.failed,
                "interrompu : erreur imprévue du worker ; le journal du serveur en garde le détail",
            )

    def _forget(self, finished: Container[object]) -> None:
        for job_id, task in list(self.active.items()):
            if task in finished:
                del self.active[job_id]
                self.chains.pop(job_id, None)

    def _lost(self, held: set[int]) -> None:
        """Stop the jobs another worker took back (this one was silent too long)."""
        for job_id, task in self.active.items():
            # A chain's run goes on while any of its jobs is still this worker's.
            if held.isdisjoint(self.chains.get(job_id, [job_id])) and not task.done():
                log.warning("Déploiement %s repris par un autre worker : arrêté ici.", job_id)
                task.cancel()


async def serve(stop: asyncio.Event | None = None, concurrency: int = 8) -> None:
    """`reemploi worker`: run jobs until stopped (the workshop key is read at the first job)."""
    worker = Worker(concurrency=concurrency)
    with contextlib.suppress(asyncio.CancelledError):
        await worker.run_forever(stop)
