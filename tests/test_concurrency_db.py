"""Invariant 7 over HTTP: concurrent requests for one transition, one success, 409 for others."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from inventory import devices
from tests.server import running_server
from tests.support import new_donation, run
from web.accounts import create_token

pytestmark = pytest.mark.db


def test_twenty_concurrent_transitions_have_one_winner(db: None) -> None:
    tags = run(new_donation(3))
    token = run(create_token("race", "technician"))
    with running_server(workers=2) as url:

        async def race(tag: str) -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                return await asyncio.gather(
                    *[
                        client.post(
                            f"/api/v1/devices/{tag}/transitions", json={"transition": "triage"}
                        )
                        for _ in range(20)
                    ]
                )

        for tag in tags:
            responses = run(race(tag))
            codes = sorted(r.status_code for r in responses)
            assert codes == [200] + [409] * 19, codes
            for response in responses:
                if response.status_code == 409:
                    assert tag in response.json()["detail"]
            device = run(devices.get_device(tag))
            assert device["state"] == "to_wipe" and device["version"] == 2
            kinds = [e["kind"] for e in run(devices.device_events(device["id"]))]
            assert kinds == ["registered", "triage"]
