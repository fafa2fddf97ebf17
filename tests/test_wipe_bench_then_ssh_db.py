"""A device wiped on the bench (station API), later over SSH in a netns PC (the same loop disk):
one disk row, two passed records, the device `wiped`, the self-audit clean."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from inventory import devices
from provisioning.tables import SanitizationRecord
from tests.sshtargets import Lab, can_run
from tests.support import new_donation, run
from tests.test_certificates_db import app_client, bearer  # noqa: F401 (fixture)
from tests.test_station_api_db import DISK, PASSED

pytestmark = pytest.mark.db
_why = can_run()
if _why and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.db, pytest.mark.skip(reason=_why)]


async def _ssh_wipe(lab: Lab, tag: str) -> list[dict[str, Any]]:
    """What a deployment's wipe step runs: the engine over SSH, the host key pinned."""
    from provisioning.imaging import deploy, hostkeys, remote_wipe
    from provisioning.imaging.hostkeys import PinnedKeyPolicy, load_pins
    from provisioning.imaging.transport import Endpoint, connect

    target = lab.targets[0]
    await hostkeys.enrol(
        target.host, hostkeys.parse_public_key(target.public_key_line()), actor="test"
    )
    policy = PinnedKeyPolicy(await load_pins(), 22)
    assert lab.client_key is not None
    transport = await asyncio.to_thread(
        connect, Endpoint(target.host, 22), lab.client_key, policy, open_socket=lab.open_socket
    )
    remote = await asyncio.to_thread(deploy.Remote, transport)

    async def step(fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    try:
        disk = {"path": target.disk, "size_bytes": lab.disk_bytes, "model": "", "serial": ""}
        return await remote_wipe.wipe_disks(
            remote, [disk], tag=tag, actor="test", station=f"root@{target.host}:22", step=step
        )
    finally:
        await asyncio.to_thread(remote.close)


def test_bench_then_ssh_wipe_of_one_disk_ends_wiped_with_both_records(
    app_client: Any,  # noqa: F811
    tokens: dict[str, str],
) -> None:
    from web.selfcheck import audit

    head = bearer(tokens["technician"])
    [tag] = run(new_donation(1))
    run(devices.apply_transition(tag, "triage", "test"))
    with Lab(1) as lab:
        target = lab.targets[0]
        # The bench station identifies the loop disk the way discovery names it.
        bench = {
            **DISK,
            "model": "Loop (fichier image)",
            "serial": f"{target.disk_file.name}#{target.disk_file.stat().st_ino}",
            "size_bytes": lab.disk_bytes,
            "manufacturer": "",
            "media_type": "",
            "transport": "other",
            "hidden_areas": "sans objet (périphérique loop)",
            "verification_method": "full",
            "tag": tag,
        }
        opened = app_client.post("/api/v1/sanitization/records", json=bench, headers=head)
        assert opened.status_code == 201, opened.text
        size = lab.disk_bytes
        done = app_client.post(
            f"/api/v1/sanitization/records/{opened.json()['id']}/finish",
            json={**PASSED, "verification_method": "full", "verified_bytes": size,
                  "bytes_written": size},
            headers=head,
        )  # fmt: skip
        assert done.status_code == 200 and done.json()["status"] == "passed", done.text
        assert run(devices.get_device(tag))["state"] == "wiped"
        # Back to wiping (the technician's choice), then wiped again over SSH.
        run(devices.apply_transition(tag, "rewipe", "test"))
        [ssh_record] = run(_ssh_wipe(lab, tag))
    device = run(devices.get_device(tag))
    assert device["state"] == "wiped"
    [disk] = run(devices.device_disks(device["id"]))
    rows = run(SanitizationRecord.select().where(SanitizationRecord.device == device["id"]))
    assert [r["status"] for r in rows] == ["passed", "passed"]
    assert {r["disk"] for r in rows} == {disk["id"]}
    assert all(r["certificate_id"] for r in rows) and ssh_record["id"] == rows[1]["id"]
    # The SSH certificate names the disk as the bench knew it, never a blank model.
    assert rows[1]["media_model"] and rows[1]["media_serial"]
    assert run(audit()) == []
