"""One wipe from start to record: checks, engine or purge, heartbeats, and the outcome.

The same flow serves `reemploi wipe` (records written directly) and the bench station (records
written through the API): only the `Reporter` differs. The engine runs in a thread; this loop
sends heartbeats meanwhile so that a dead process is noticed and its record settled.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol

import msgspec

from inventory.errors import Invalid
from provisioning import discovery, purge, records, wipe
from provisioning.consistency import MarkerCheck, PurgeEvidence
from provisioning.disk_identity import DiskIdentity, nvme_controller
from provisioning.records import Media, Outcome, Runner
from provisioning.tables import MethodType, Status, VerifyMode

HEARTBEAT_SECONDS = 5.0
TICK_SECONDS = 1.0
SCHEME_DETAILS = {
    "zeros": "Écrasement de chaque secteur adressable : 1 passe de zéros",
    "pattern-complement": (
        "Écrasement de chaque secteur adressable : 2 passes, motif pseudo-aléatoire puis son "
        "complément (mémoire flash USB)"
    ),
}


class WipeOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The command of one wipe on this machine (`reemploi wipe`): which method, how it is read
    back, the device the disk belongs to. The command line builds it (`inventory.commands.build`),
    so a bad value is refused with the same sentence as the API's."""

    field_labels: ClassVar[dict[str, str]] = {
        "method": "Méthode",
        "verify": "Relecture",
        "tag": "Étiquette",
        "allow_loop": "Périphérique loop",
    }

    method: MethodType = MethodType.clear
    verify: VerifyMode = VerifyMode.full
    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    allow_loop: bool = False


class Reporter(Protocol):
    async def start(
        self, media: Media, method_type: MethodType, verification_method: str, tag: str | None
    ) -> dict[str, Any]: ...

    async def heartbeat(self, record_id: int, progress_bytes: int) -> None: ...

    async def finish(self, record_id: int, outcome: Outcome) -> dict[str, Any]: ...


@dataclass
class LiveProgress:
    """The latest engine progress, shared between the engine thread and the screens."""

    phase: str = "préparation"
    done: int = 0
    total: int = 0
    rate: float = 0.0
    eta: float | None = None

    def update(self, item: wipe.Progress) -> None:
        phase = "écriture" if item.phase == "write" else "vérification"
        self.phase = f"{phase} {item.step}/{item.steps}"
        self.done, self.total, self.rate, self.eta = item.done, item.total, item.rate, item.eta


def media_of(identity: DiskIdentity) -> Media:
    return Media(
        model=identity.model,
        serial=identity.serial,
        size_bytes=identity.size_bytes,
        manufacturer=identity.manufacturer,
        media_type=identity.media_type,
        transport=identity.transport,
        rotational=identity.rotational,
        hidden_areas=identity.hidden_areas,
    )


def _tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return argv[0]
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def clear_outcome(report: dict[str, Any] | None, size_bytes: int) -> Outcome:
    """The record's outcome from the engine's report (`wipe.run_clear`), wherever it ran: the
    bench, a station or the live system over SSH. Nothing is claimed that did not run."""
    report = report or {}
    scheme = str(report.get("scheme") or "zeros")
    base = Outcome(
        status=Status.failed,
        method_type=MethodType.clear,
        method="overwrite",
        method_details=SCHEME_DETAILS.get(scheme, SCHEME_DETAILS["zeros"]),
        verification_method=str(report.get("verify") or "full"),
        verification_result="not_run",
    )
    if report.get("hidden_areas"):
        base.hidden_areas = str(report["hidden_areas"])[:200]
    event = report.get("event")
    if event == "error":
        status = report.get("status")
        base.status = Status.interrupted if status == "interrupted" else Status.failed
        base.reason = str(report.get("reason") or "Effacement en échec, sans raison donnée.")
        return base
    if event != "result":
        base.reason = "Le moteur d'effacement n'a pas rendu de résultat (connexion perdue ?)."
        return base
    # After an HPA was removed the disk is larger than first seen: the engine's size counts.
    expected = int((report.get("identity") or {}).get("size_bytes") or size_bytes)
    base.tool = str(report.get("tool", ""))[:120]
    base.bytes_written = int(report.get("bytes_written", 0))
    base.verified_bytes = int(report.get("verified_bytes", 0))
    notes = ("passes", "direct_io", "sector_size", "sample_seed", "overlapped")
    base.notes = {key: report.get(key) for key in notes}
    for key in ("write_seconds", "verify_seconds", "total_seconds"):
        base.notes[key] = round(float(report.get(key) or 0.0), 3)
    base.notes.update(report.get("details") or {})
    if not report.get("verify_passed"):
        base.verification_result = "failed"
        base.reason = (
            f"La relecture a trouvé un contenu inattendu vers l'octet "
            f"{(report.get('details') or {}).get('mismatch_offset')} : secteurs défaillants ? "
            "Aucun certificat."
        )
        return base
    if base.bytes_written != expected or base.verified_bytes < (
        expected if base.verification_method == "full" else 1
    ):
        base.reason = "La taille effacée ne correspond pas à celle du disque."
        return base
    base.status = Status.passed
    base.verification_result = "passed"
    return base


def clear_disk(
    identity: DiskIdentity, verify: str, live: LiveProgress, stop: threading.Event
) -> Outcome:
    """Clear (NIST SP 800-88) through the engine's one entry point, then the one mapping."""
    report = wipe.run_clear(
        identity.path, identity=identity, scheme=identity.clear_scheme, verify=verify,
        progress=live.update, stop=stop.is_set,
    )  # fmt: skip
    return clear_outcome(report, identity.size_bytes)


def purge_plan(identity: DiskIdentity) -> purge.PurgePlan:
    """Ask the drive what it supports and choose; PurgeRefused says why not."""
    if identity.is_loop:
        raise purge.PurgeRefused(
            "Un périphérique loop n'a pas de micrologiciel : purge impossible, faites un Clear."
        )
    if identity.transport == "nvme":
        controller = nvme_controller(identity.name)
        if controller is None:
            raise purge.PurgeRefused(f"Contrôleur NVMe introuvable pour {identity.name}.")
        text = subprocess.run(["nvme", "id-ctrl", controller], capture_output=True, text=True)
        if text.returncode != 0:
            raise purge.PurgeRefused(f"nvme id-ctrl a échoué : {text.stderr.strip()[:200]}")
        return purge.plan_nvme(purge.parse_nvme_id_ctrl(text.stdout), controller, identity.path)
    if identity.transport in ("sata", "usb"):
        text = subprocess.run(["hdparm", "-I", identity.path], capture_output=True, text=True)
        if text.returncode != 0:
            raise purge.PurgeRefused(f"hdparm -I a échoué : {text.stderr.strip()[:200]}")
        info = purge.parse_hdparm_identify(text.stdout)
        return purge.plan_ata(
            info, identity.path, transport=identity.transport, rotational=identity.rotational
        )
    raise purge.PurgeRefused(f"Pas de purge connue pour l'interface « {identity.transport} ».")


def purge_disk(identity: DiskIdentity, live: LiveProgress, stop: threading.Event) -> Outcome:
    """Purge by firmware, verified by markers written before and checked after."""
    base = Outcome(
        status=Status.failed,
        method_type=MethodType.purge,
        verification_method="markers",
        verification_result="not_run",
    )
    try:
        plan = purge_plan(identity)
        base.method, base.method_details = plan.method, plan.label
        tool = ["nvme", "version"] if plan.kind == "nvme" else ["hdparm", "-V"]
        base.tool = _tool_version(tool)
        seed = random.SystemRandom().randrange(1 << 62)
        live.phase = "marqueurs"
        offsets = wipe.write_markers(identity.path, seed)
        live.phase = "purge"
        completion = purge.execute(
            plan, progress=lambda percent: setattr(live, "done", int(percent))
        )
        live.phase = "contrôle"
        report = wipe.check_markers(identity.path, seed, offsets)
    except (purge.PurgeRefused, wipe.WipeError, OSError) as error:
        base.reason = str(error)
        return base
    # The evidence the server needs before it signs a Purge (consistency.refusal).
    check = msgspec.convert(report, MarkerCheck)
    base.evidence = PurgeEvidence(
        commands=[" ".join(command) for command in plan.commands],
        completion=completion.state,
        completion_source=completion.source,
        completion_detail=completion.detail,
        markers=check,
        warnings=list(plan.warnings),
    )
    base.verified_bytes = check.markers * wipe.MARKER_SIZE
    base.bytes_written = identity.size_bytes
    if not check.passed:
        base.verification_result = "failed"
        base.reason = (
            f"{check.survivors} marqueurs sur {check.markers} ont survécu à la purge : "
            "le disque n'a pas effacé ses données. Aucun certificat."
        )
        return base
    base.status = Status.passed
    base.verification_result = "passed"
    return base


async def run_wipe(
    identity: DiskIdentity,
    reporter: Reporter,
    *,
    method: str = "clear",
    verify: str = "full",
    tag: str | None = None,
    stop: threading.Event | None = None,
    live: LiveProgress | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    on_tick: Callable[[LiveProgress], None] | None = None,
) -> dict[str, Any]:
    """Open a record, wipe, close the record; returns the closed record."""
    stop = stop or threading.Event()
    live = live or LiveProgress(total=identity.size_bytes)
    method_type = MethodType(method)
    verification = "markers" if method_type == MethodType.purge else verify
    record = await reporter.start(media_of(identity), method_type, verification, tag)
    if on_record:
        on_record(record)
    if method_type == MethodType.purge:
        work = asyncio.create_task(asyncio.to_thread(purge_disk, identity, live, stop))
    else:
        work = asyncio.create_task(asyncio.to_thread(clear_disk, identity, verify, live, stop))
    last_beat = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=TICK_SECONDS)
            if done:
                break
            if on_tick:
                on_tick(live)
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                try:
                    await reporter.heartbeat(record["id"], live.done)
                except Exception:
                    pass  # a lost heartbeat must not stop the wipe; the next one may pass
        outcome = work.result()
    except BaseException:
        # Cancelled or failing here: the engine thread is told to stop and the record closed.
        stop.set()
        outcome = Outcome(
            status=Status.interrupted,
            reason="Effacement arrêté (programme interrompu) : aucun certificat.",
            method_type=method_type,
        )
        await reporter.finish(record["id"], outcome)
        raise
    return await reporter.finish(record["id"], outcome)


class LocalReporter:
    """Records written straight into the database (the `reemploi wipe` command)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def start(
        self, media: Media, method_type: MethodType, verification_method: str, tag: str | None
    ) -> dict[str, Any]:
        return await records.start(
            media, self.runner, method_type=method_type,
            verification_method=verification_method, tag=tag,
        )  # fmt: skip

    async def heartbeat(self, record_id: int, progress_bytes: int) -> None:
        await records.heartbeat(record_id, progress_bytes)

    async def finish(self, record_id: int, outcome: Outcome) -> dict[str, Any]:
        try:
            return await records.finish(record_id, outcome, self.runner.operator)
        except records.ResultRefused as refused:
            return refused.record  # closed failed with the reason: shown like any failure


def describe(live: LiveProgress) -> str:
    """One line of progress in French: phase, bytes, rate, time left."""
    line = f"{live.phase} : {live.done / 1e6:,.0f} / {live.total / 1e6:,.0f} Mo"
    if live.rate:
        line += f", {live.rate / 1e6:,.0f} Mo/s"
    if live.eta is not None:
        line += f", reste {live.eta:,.0f} s"
    return line.replace(",", " ")


async def wipe_here(
    path: str,
    runner: Runner,
    options: WipeOptions,
    *,
    base_url: str,
    on_tick: Callable[[LiveProgress], None] | None = None,
) -> tuple[dict[str, Any], bytes | None]:
    """`reemploi wipe`: identify, refuse what must not be wiped, wipe, certify a pass.

    SIGTERM and SIGINT stop the engine cleanly (an interrupted record); SIGKILL cannot be caught,
    and the record it leaves running is settled as interrupted by the next look at it.
    """
    identity = discovery.identify(path)
    refused = discovery.refusal(identity.name, Path("/") if options.allow_loop else None)
    if refused:
        raise Invalid(refused)
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        record = await run_wipe(
            identity, LocalReporter(runner), method=options.method, verify=options.verify,
            tag=options.tag, stop=stop, on_tick=on_tick,
        )  # fmt: skip
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    if record["status"] != Status.passed:
        return record, None
    record, pdf = await records.issue_pdf(record["id"], base_url, runner.operator)
    return record, pdf
