"""Step 2 of a deployment: wipe the PC's internal disks with the wipe engine, over SSH.

The engine's files (`wipe.ENGINE_FILES`, standard library only) are sent to the live system,
whose python3 runs the same entry point as the bench (`wipe.run_clear`: identity from smartctl,
hdparm, nvme-cli and sysfs, HPA removal, overwrite, read-back). Its report is turned into the
record's outcome by the bench's one mapping (`job.clear_outcome`), and the certificates are a
bench wipe's: a failed or interrupted wipe stops the deployment.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from inventory.config import settings
from provisioning import certificates, job, records, wipe
from provisioning.disk_identity import DiskIdentity
from provisioning.imaging.transport import run
from provisioning.records import Outcome, Runner
from provisioning.tables import MethodType, Status

ENGINE_DIR = Path(wipe.__file__).parent
HEARTBEAT_SECONDS = 5.0
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Step = Callable[..., Awaitable[Any]]


def last_report(out: bytes) -> dict[str, Any] | None:
    """The engine's last JSON line (its report), or None when it printed none."""
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def remote_identity(out: bytes, disk: dict[str, Any]) -> DiskIdentity:
    """The live system's `wipe.py identify` answer; the facts already known if it gave none."""
    report = last_report(out)
    if report is not None and report.get("event") == "identity":
        return DiskIdentity.from_dict(report)
    path = str(disk["path"])
    return DiskIdentity(
        path=path,
        name=path.rsplit("/", 1)[-1],
        model=str(disk.get("model") or ""),
        serial=str(disk.get("serial") or ""),
        size_bytes=int(disk.get("size_bytes") or 0),
        transport=str(disk.get("transport") or "other"),
        rotational=bool(disk.get("rotational")),
        warnings=["Identité lue par sysfs seulement (wipe.py identify sans réponse)."],
    )


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
    for name in wipe.ENGINE_FILES:
        data = (ENGINE_DIR / name).read_bytes()
        await step(lambda n=name, d=data: remote.put(f"{remote.workdir}/{n}", d))
    engine = f"{PATH}; python3 {remote.workdir}/wipe.py"
    runner = Runner(operator=actor, station=station)
    base_url = settings().base_url
    passed = []
    for disk in disks:
        device = shlex.quote(str(disk["path"]))
        _, said, _ = await step(
            lambda c=f"{engine} identify {device}": run(remote.transport, c, check=False)
        )
        identity = remote_identity(said, disk)
        record = await records.start(
            job.media_of(identity), runner, method_type=MethodType.clear,
            verification_method="full", tag=tag,
        )  # fmt: skip
        command = f"{engine} clear {device} --verify full"
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
        outcome = job.clear_outcome(last_report(out), identity.size_bytes)
        done = await records.finish(record["id"], outcome, actor)
        if done["status"] != Status.passed:
            raise RuntimeError(f"effacement de {disk['path']} : {done['reason']}")
        done, pdf = await records.issue_pdf(done["id"], base_url, actor)
        certificates.store_pdf(pdf)
        passed.append(done)
    return passed
