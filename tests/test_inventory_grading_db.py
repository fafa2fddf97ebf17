"""Inventory on its own: parsing genuine tool outputs, the suggested grade, the CLI over SSH to
a netns PC (host key pinned) and on this machine, into the device with its event."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from inventory import devices
from inventory.states import Grade
from provisioning import grading
from provisioning.imaging import inventory_collect as collect
from tests.sshtargets import Lab, can_run
from tests.support import new_donation, run

pytestmark = pytest.mark.db
DATA = Path(__file__).parent / "data" / "imaging"
needs_lab = pytest.mark.skipif(
    bool(can_run()) and os.environ.get("CI") != "true", reason=str(can_run())
)


def genuine_raw() -> dict:
    """What the agent returns, made of the genuine captured outputs in tests/data/imaging."""
    return {
        "disks": [{"path": "/dev/nvme0n1", "size_bytes": 1024209543168, "transport": "nvme"}],
        "tools": {
            "lshw": (DATA / "lshw-build-machine.json").read_text(),
            "dmidecode": (DATA / "dmidecode-hp-dl380p-gen8-excerpt.txt").read_text(),
        },
        "smartctl": {"/dev/nvme0n1": (DATA / "smartctl-nvme-intel-ssdpeknw010t8.json").read_text()},
        "battery": [{"name": "BAT0", "full": "31200000", "design": "45600000", "cycles": "412"}],
    }


def test_genuine_outputs_give_health_hours_wear_and_a_grade() -> None:
    summary = collect.summarise(genuine_raw())
    [disk] = summary["disks"]
    assert disk["model"] == "INTEL SSDPEKNW010T8" and disk["serial"] == "BTNH93710FS91P0B"
    assert disk["smart_passed"] is True and disk["power_on_hours"] == 2401
    assert summary["system"]["vendor"] == "HP" and summary["system"]["cpu"]
    [battery] = summary["battery"]
    assert battery["health_percent"] == 68.4 and grading.battery_wear(battery) == 31.6
    lshw = json.loads((DATA / "lshw-build-machine.json").read_text())
    assert summary["system"]["memory_bytes"] == collect.parse_lshw(json.dumps(lshw))["memory_bytes"]
    suggestion = grading.suggest(
        ram_mb=8192, cpu="Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", disks=summary["disks"],
        batteries=summary["battery"],
    )  # fmt: skip
    # RAM, CPU and disk allow A; a battery worn by 31.6 % caps it at B.
    assert suggestion.grade == Grade.b
    assert any("31,6" in r or "31.6" in r for r in suggestion.reasons)


@pytest.mark.parametrize(
    ("facts", "grade"),
    [
        ({}, Grade.unknown),
        ({"ram_mb": 16384, "cpu": "Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"}, Grade.a),
        ({"ram_mb": 4096, "cpu": "Intel(R) Core(TM) i5-4300U"}, Grade.b),
        ({"ram_mb": 2048}, Grade.c),
        ({"cpu": "Intel(R) Celeron(R) N4020 CPU @ 1.10GHz"}, Grade.c),
        ({"cpu": "AMD Ryzen 5 3500U with Radeon Vega Mobile Gfx"}, Grade.a),
        ({"cpu": "Intel Core i3-2310M"}, Grade.c),
        ({"disks": [{"smart_passed": False, "power_on_hours": 10}]}, Grade.c),
        ({"disks": [{"smart_passed": True, "power_on_hours": 25_000}]}, Grade.b),
        ({"batteries": [{"health_percent": 45.0}]}, Grade.c),
        ({"batteries": [{"health_percent": None}], "ram_mb": 8192}, Grade.a),
    ],
)
def test_the_grade_is_the_worst_criterion_known(facts: dict, grade: Grade) -> None:
    assert grading.suggest(**facts).grade == grade


def test_local_inventory_reaches_the_device_with_its_event(db: None) -> None:
    from click.testing import CliRunner

    import web.cli.inventory  # noqa: F401 (registers the command)
    from web.cli import main

    [tag] = run(new_donation(1))
    done = CliRunner().invoke(main, ["inventory", tag, "--local"])
    assert done.exit_code == 0, done.output
    assert tag in done.output
    device = run(devices.get_device(tag))
    assert "hardware" in device["facts"] and device["facts"]["hardware"]["tools"]
    [event] = [
        e for e in run(devices.device_events(device["id"])) if e["kind"] == collect.INVENTORIED
    ]
    assert event["payload"]["source"] == "bench"
    assert event["payload"]["suggested_grade"] in {g.value for g in Grade}
    # Both or neither: an address and --local, or a misread tag, are refused in French.
    both = CliRunner().invoke(main, ["inventory", f"{tag}@10.0.0.1", "--local"])
    assert both.exit_code == 2 and "soit" in both.output
    misread = CliRunner().invoke(
        main, ["inventory", tag[:-1] + ("A" if tag[-1] != "A" else "B"), "--local"]
    )
    assert misread.exit_code != 0 and "mal lue" in misread.output


@needs_lab
def test_cli_inventories_a_live_pc_over_ssh_with_its_pinned_key(db: None, monkeypatch) -> None:
    from click.testing import CliRunner

    import web.cli.inventory  # noqa: F401 (registers the command)
    from provisioning.imaging import deploy, hostkeys
    from web.cli import main

    [tag, stranger] = run(new_donation(2))
    with Lab(1) as lab:
        target = lab.targets[0]
        monkeypatch.setattr(deploy, "OPEN_SOCKET", lab.open_socket)
        key = ["--key", str(lab.client_key_file)]
        # An unknown host key is refused before anything is read or written.
        refused = CliRunner().invoke(main, ["inventory", f"{stranger}@{target.host}", *key])
        assert refused.exit_code == 2, refused.output
        assert "hardware" not in (run(devices.get_device(stranger))["facts"] or {})
        run(
            hostkeys.enrol(
                target.host, hostkeys.parse_public_key(target.public_key_line()), actor="test"
            )
        )
        done = CliRunner().invoke(main, ["inventory", f"{tag}@{target.host}", *key])
    assert done.exit_code == 0, done.output
    device = run(devices.get_device(tag))
    hardware = device["facts"]["hardware"]
    # The agent's own facts of the live PC (its loop disk is not one it offers as internal).
    assert "lshw" in hardware["tools"] and device["cpu"] == hardware["system"]["cpu"]
    assert "Processeur" in done.output
    events = [
        e for e in run(devices.device_events(device["id"])) if e["kind"] == collect.INVENTORIED
    ]
    assert [e["payload"]["source"] for e in events] == [f"ssh:{target.host}:22"]
