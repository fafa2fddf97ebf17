"""Step 2 of a deployment: wipe the PC's internal disks with the wipe engine, over SSH.

The engine (`provisioning/wipe.py`, standard library only) is sent to the live system and run
by its python3; the records and certificates are those of a bench wipe (`provisioning.records`),
so a deployment never claims more than what ran: a failed or interrupted wipe stops it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from inventory.config import settings
from provisioning import certificates, records, wipe
from provisioning.imaging.transport import run
from provisioning.records import Media, Outcome, Runner
from provisioning.tables import MethodType, Status

ENGINE = Path(wipe.__file__)
HEARTBEAT_SECONDS = 5.0
Step = Callable[..., Awaitable[Any]]


def outcome_of(out: bytes, disk: dict[str, Any]) -> Outcome:
    """The record's outcome from the engine's last JSON line; nothing claimed that did not run."""
    base = Outcome(
        status=Status.failed,
        method_type=MethodType.clear,
        method="overwrite",
        method_details="Écrasement de chaque secteur adressable : 1 passe de zéros",
        verification_method="full",
        verification_result="not_run",
    )
    try:
        last = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        base.reason = "Le moteur d'effacement n'a pas rendu de résultat (connexion perdue ?)."
        return base
    if last.get("event") == "error":
        base.status = Status(last.get("status", "failed"))
        base.reason = str(last.get("reason", ""))
        return base
    base.tool = str(last.get("tool", ""))
    base.bytes_written = int(last.get("bytes_written", 0))
    base.verified_bytes = int(last.get("verified_bytes", 0))
    base.notes = {k: last.get(k) for k in ("passes", "direct_io", "sector_size", "write_seconds")}
    if not last.get("verify_passed"):
        base.verification_result = "failed"
        base.reason = "La relecture a trouvé un contenu inattendu : aucun certificat."
    elif base.bytes_written != disk["size_bytes"]:
        base.reason = "La taille effacée ne correspond pas à celle du disque."
    else:
        base.status = Status.passed
        base.verification_result = "passed"
    return base


async def wipe_disks(
    remote: Any,
    disks: list[dict[str, Any]],
    *,
    tag: str,
    actor: str,
    station: str,
    step: Step,
) -> list[dict[str, Any]]:
    """Clear each disk in turn; the passed records (certified), or an error naming the failure."""
    await step(lambda: remote.put(f"{remote.workdir}/wipe.py", ENGINE.read_bytes()))
    runner = Runner(operator=actor, station=station)
    base_url = settings().base_url
    passed = []
    for disk in disks:
        media = Media(
            model=disk.get("model", ""),
            serial=disk.get("serial", ""),
            size_bytes=int(disk["size_bytes"]),
            transport=disk.get("transport", "other"),
            rotational=bool(disk.get("rotational")),
        )
        record = await records.start(
            media, runner, method_type=MethodType.clear, verification_method="full", tag=tag
        )
        command = (
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; "
            f"python3 {remote.workdir}/wipe.py clear {shlex.quote(disk['path'])} --verify full"
        )
        work = asyncio.ensure_future(
            step(lambda c=command: run(remote.transport, c, check=False, timeout=86400))
        )
        try:
            while not work.done():
                await asyncio.wait([work], timeout=HEARTBEAT_SECONDS)
                if not work.done():
                    await records.heartbeat(record["id"], 0)
            _, out, _ = work.result()
        except BaseException:
            interrupted = Outcome(
                status=Status.interrupted,
                reason="Effacement interrompu (connexion perdue) : aucun certificat.",
                method_type=MethodType.clear,
            )
            await records.finish(record["id"], interrupted, actor)
            raise
        done = await records.finish(record["id"], outcome_of(out, disk), actor)
        if done["status"] != Status.passed:
            raise RuntimeError(f"effacement de {disk['path']} : {done['reason']}")
        done, pdf = await records.issue_pdf(done["id"], base_url, actor)
        certificates.store_pdf(pdf)
        passed.append(done)
    return passed
