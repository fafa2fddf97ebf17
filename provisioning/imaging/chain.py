"""Chained deployment: the server feeds the first PC; each PC writes and forwards to the next.

Every PC is reached over SSH with its pinned host key, as in unicast (`JobRun.open`). The server
then starts the agents from the last PC to the first: each receiving agent listens on an
ephemeral port of its LAN address and reports it on its SSH channel; its predecessor is told to
connect there, the hop authenticated by a one-time token sent to both over SSH
(provisioning/imaging/target_chain.py). Only the first PC's stream crosses the server's link.
Each PC verifies its own ranges and reports on its own channel; the rest (GPT, personalisation,
record) is unicast's, PC by PC, as soon as its ranges are verified.

A PC that fails (connection cut, disk gone, verification) fails with its reason and is cut out:
the PCs after it are stopped and fed again by a new chain from the server, from the beginning
(writing is idempotent), while the PCs before it go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import paramiko

from provisioning.imaging import images
from provisioning.imaging.job_run import JobRun, StepFailed, chunks, in_thread, run_unicast
from provisioning.imaging.transport import WINDOW, RemoteError

log = logging.getLogger("reemploi.worker")
LISTEN_SECONDS = 60.0  # for a receiving agent to report its port
SILENT_SECONDS = 300.0  # an agent that says nothing that long is unreachable
SAVE_SECONDS = 1.0  # progress of every streaming PC saved this often (one write per PC)


@dataclass
class Member:
    """One PC in one round of the chain."""

    run: JobRun
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    channel: paramiko.Channel | None = None
    lines: Any = None  # the channel's stdout as a file: one buffer for every line read
    position: int = 0
    received: int = 0
    ended: bool = False
    aborted: bool = False
    refeed: bool = False  # ended because of the stream, not of itself: feed it again


@dataclass
class Round:
    members: list[Member]
    cut: int = 1 << 30  # every member after this position is doomed


class Relay:
    """The blocking half: runs the rounds in threads, hands each PC's outcome to `deliver`."""

    def __init__(self, runs: list[JobRun], deliver):
        self.runs = runs
        self.deliver = deliver
        self.events: queue.Queue[tuple[str, Round, Member, Any]] = queue.Queue()
        self.left = {id(r) for r in runs}
        self.rounds_left = 2 * len(runs)
        self.stopping = False
        self.rounds: list[Round] = []
        self.image: dict[str, Any] = runs[0].image

    # -- the coordinator ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._coordinate()
        except Exception as error:  # never leave a job waiting for an outcome
            log.exception("Chaîne de déploiement : erreur imprévue.")
            self.stop()
            for run in self.runs:
                self._done(run, StepFailed(f"chaîne interrompue : {type(error).__name__}: {error}"))

    def _coordinate(self) -> None:
        self._start_round(self.runs)
        while self.left:
            kind, round_, member, payload = self.events.get()
            if kind == "cut":
                self._cut(round_, member.position)
            elif kind == "end" and not member.ended:
                member.ended = True
                self._ended(round_, member, payload)
            self._refeed(round_)

    def stop(self) -> None:
        """Close every channel (the job is cancelled): each agent stops, each reader ends."""
        self.stopping = True
        for round_ in self.rounds:
            for member in round_.members:
                self._abort(member)

    def _done(self, run: JobRun, outcome: Any) -> None:
        if id(run) in self.left:
            self.left.discard(id(run))
            self.deliver(run, outcome)

    def _ended(self, round_: Round, member: Member, outcome: Any) -> None:
        if isinstance(outcome, dict) and "error" not in outcome:
            self._done(member.run, outcome)
            if outcome.get("forward_error"):
                self._cut(round_, member.position)
        elif isinstance(outcome, RemoteError):  # its own connection lost, even if stopped
            self._done(member.run, outcome)
            self._cut(round_, member.position)
        elif member.aborted or (isinstance(outcome, dict) and outcome.get("upstream")):
            member.refeed = True
            self._cut(round_, member.position - 1)
        else:
            self._done(member.run, outcome)
            self._cut(round_, member.position)

    def _cut(self, round_: Round, position: int) -> None:
        if position >= round_.cut:
            return
        round_.cut = position
        for member in round_.members[position + 1 :]:
            if not member.ended:
                self._abort(member)

    def _abort(self, member: Member) -> None:
        member.aborted = True
        if member.channel is not None:
            member.channel.close()

    def _refeed(self, round_: Round) -> None:
        after = round_.members[round_.cut + 1 :] if round_.cut >= -1 else []
        if not after or not all(m.ended for m in after):
            return
        again = [m.run for m in after if m.refeed and id(m.run) in self.left]
        for member in after:
            member.refeed = False
        if not again:
            return
        if self.stopping or self.rounds_left <= 0:
            for run in again:
                self._done(run, StepFailed("flux interrompu : la chaîne n'a pu être reformée"))
            return
        log.info("Chaîne reformée depuis le serveur pour %s PC.", len(again))
        self._start_round(again)

    # -- one round -------------------------------------------------------------------------
    def _start_round(self, runs: list[JobRun]) -> None:
        """Start every receiving agent at once, tell each where to forward, then the first."""
        self.rounds_left -= 1
        round_ = Round([])
        self.rounds.append(round_)
        receivers = [Member(run) for run in runs[1:]]
        ports: dict[int, int] = {}

        def listen(member: Member) -> None:
            try:
                ports[id(member)] = self._start(member, None, listen=True)
            except Exception as error:
                if member.channel is not None:
                    member.channel.close()
                self._done(member.run, error)

        starting = [threading.Thread(target=listen, args=(m,)) for m in receivers]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        receivers = [m for m in receivers if id(m) in ports]
        for member, successor in zip(receivers, [*receivers[1:], None], strict=False):
            self._tell_forward(member, successor, ports)
        head = Member(runs[0])
        try:
            self._start(head, self._forward_to(receivers[0], ports) if receivers else None)
        except Exception as error:
            if head.channel is not None:
                head.channel.close()
            self._done(head.run, error)
            # The first PC did not start: the others wait for a stream that never comes.
            for member in receivers:
                self._abort(member)
            if receivers and self.rounds_left > 0 and not self.stopping:
                self._start_round([m.run for m in receivers])
            else:
                for member in receivers:
                    self._done(member.run, StepFailed("la chaîne n'a pu être formée"))
            return
        round_.members = [head, *receivers]
        for position, member in enumerate(round_.members):
            member.position = position
            with member.run.progress.lock:
                member.run.progress.bytes_done = 0
            if len(self.rounds) > 1:
                member.run.progress.enter("transfer", f"{member.run.disk} (chaîne reformée)")
            threading.Thread(target=self._read, args=(round_, member), daemon=True).start()
        threading.Thread(target=self._feed, args=(head,), daemon=True).start()

    @staticmethod
    def _forward_to(member: Member, ports: dict[int, int]) -> dict[str, Any]:
        return {"host": member.run.target.host, "port": ports[id(member)], "token": member.token}

    def _tell_forward(self, member: Member, successor: Member | None, ports) -> None:
        """A receiving agent's first stdin line: where to forward (null: it is the last)."""
        forward = self._forward_to(successor, ports) if successor is not None else None
        assert member.channel is not None
        try:
            member.channel.sendall(json.dumps(forward).encode() + b"\n")
        except (OSError, EOFError, paramiko.SSHException):
            pass  # its reader sees the channel end and says why

    def _start(
        self, member: Member, forward: dict[str, Any] | None, *, listen: bool = False
    ) -> int:
        """Start one agent; the port it listens on (0 for the first PC)."""
        run = member.run
        remote = run.remote
        assert remote is not None
        config = {
            "listen": run.target.host if listen else "",
            "token": member.token,
            "forward": forward,
        }
        channel = remote.transport.open_session(window_size=WINDOW, max_packet_size=32768)
        member.channel = channel
        # The configuration is stdin's first line (no round trip to write a file first).
        channel.exec_command(remote.command("chain", run.disk, run.map_path, "-"))
        channel.sendall(json.dumps(config).encode() + b"\n")
        member.lines = channel.makefile("rb")
        if not listen:
            return 0
        channel.settimeout(LISTEN_SECONDS)
        line = member.lines.readline()
        channel.settimeout(None)
        try:
            said = json.loads(line)
        except ValueError:
            raise StepFailed("l'agent ne répond pas (mode réception)") from None
        if "listening" not in said:
            raise StepFailed(said.get("error", "l'agent n'écoute pas"))
        return int(said["listening"])

    def _feed(self, member: Member) -> None:
        """The compressed image into the first PC's stdin, from this server."""
        channel, run = member.channel, member.run
        assert channel is not None
        try:
            for chunk in chunks(images.data_path(self.image)):
                if member.aborted:
                    return
                channel.sendall(chunk)
                run.on_sent(len(chunk))
            channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the reader sees the channel end and says why

    def _read(self, round_: Round, member: Member) -> None:
        """Follow one agent's lines: progress, a forwarding failure, its result."""
        channel, run = member.channel, member.run
        assert channel is not None
        outcome: Any = None
        try:
            channel.settimeout(SILENT_SECONDS)
            for raw in member.lines:
                try:
                    said = json.loads(raw)
                except ValueError:
                    continue
                if "ranges" in said or "error" in said:
                    outcome = said
                    if member.position > 0 and "received" in said:
                        run.progress.sent(int(said["received"]) - member.received)
                        member.received = int(said["received"])
                elif "received" in said and member.position > 0:
                    run.progress.sent(int(said["received"]) - member.received)
                    member.received = int(said["received"])
                    run.observe()
                elif "forward_error" in said:
                    self.events.put(("cut", round_, member, None))
        except (OSError, EOFError, paramiko.SSHException) as error:
            if not member.aborted:  # a channel this server closed is no lost connection
                outcome = RemoteError(f"la connexion SSH a été perdue : {error or 'sans réponse'}")
        if outcome is None or (isinstance(outcome, dict) and "error" in outcome):
            channel.status_event.wait(5)  # the exit status follows the end of the output
            status = channel.recv_exit_status() if channel.exit_status_ready() else -1
            transport = run.remote.transport if run.remote else None
            if transport is not None and status == -1 and not member.aborted:
                transport.join(2)  # a dropped connection: let paramiko notice it
            if transport is None or not transport.is_active():
                outcome = RemoteError("la connexion SSH a été perdue")
            elif outcome is None and status == -1 and not member.aborted:
                outcome = RemoteError("la connexion SSH a été perdue (agent tué)")
            elif outcome is None:
                outcome = StepFailed(f"l'agent s'est arrêté sans résultat ({status})")
            elif not outcome.get("upstream"):
                # The agent said why before its exit status came (late on a loaded machine).
                outcome = StepFailed(outcome["error"])
        channel.close()
        self.events.put(("end", round_, member, outcome))


async def run_chain(runs: list[JobRun]) -> None:
    """Run claimed jobs as one chain, in the order given; every job ends passed or failed."""
    if len(runs) == 1:
        await run_unicast(runs[0])
        return
    try:
        opened = await asyncio.gather(*(r.guarded(r.open()) for r in runs))
        ready = [r for r, ok in zip(runs, opened, strict=True) if ok]
        if ready:
            await _stream_and_conclude(ready)
    finally:
        await asyncio.gather(*(r.close() for r in runs))


async def _stream_and_conclude(ready: list[JobRun]) -> None:
    loop = asyncio.get_running_loop()
    outcomes: asyncio.Queue[tuple[JobRun, Any]] = asyncio.Queue()

    def deliver(run: JobRun, outcome: Any) -> None:
        loop.call_soon_threadsafe(outcomes.put_nowait, (run, outcome))

    for run in ready:
        run.progress.enter("transfer", f"{run.disk} (chaîne)")
    relay = Relay(ready, deliver)
    relaying = in_thread(relay.run)
    concluding: list[asyncio.Future[bool]] = []
    waiting = set(map(id, ready))
    try:
        while waiting:
            try:
                run, outcome = await asyncio.wait_for(outcomes.get(), timeout=SAVE_SECONDS)
            except TimeoutError:
                for run in ready:
                    if id(run) in waiting:
                        await run.save()
                continue
            waiting.discard(id(run))
            if isinstance(outcome, BaseException):
                concluding.append(asyncio.ensure_future(run.guarded(_raise(outcome))))
            else:
                concluding.append(asyncio.ensure_future(_conclude(run, outcome)))
        await relaying
        await asyncio.gather(*concluding)
    except BaseException as error:
        relay.stop()
        for task in concluding:
            task.cancel()
        await asyncio.gather(*concluding, return_exceptions=True)
        for run in ready:
            await run.fail(error)
        raise


async def _conclude(run: JobRun, written: dict[str, Any]) -> bool:
    ok = await run.guarded(run.conclude(written))
    await run.close()  # a finished PC lets go of its connection at once
    return ok


async def _raise(error: BaseException) -> None:
    raise error
