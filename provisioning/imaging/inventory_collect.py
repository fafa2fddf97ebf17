"""Hardware inventory from the live system: lshw -json, dmidecode, smartctl --json, battery.

Collected by the agent (`target_agent.py facts`) over SSH during a deployment or on its own
(`reemploi inventory TAG@HOST`), or on this machine (`--local`); merged into the device's facts
with a `hardware_inventoried` event naming the grade the facts suggest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from inventory import devices
from inventory.db import write_transaction
from inventory.errors import Invalid, NotFound
from inventory.tables import Device, Disk
from provisioning import grading

INVENTORIED = "hardware_inventoried"
AGENT = Path(__file__).with_name("target_agent.py")


def parse_lshw(text: str) -> dict[str, Any]:
    """Vendor, product, serial, CPU and memory of an `lshw -json` tree."""
    if not text.strip():
        return {}
    data = json.loads(text)
    root = data[0] if isinstance(data, list) else data
    out: dict[str, Any] = {
        k: root.get(k, "") for k in ("vendor", "product", "serial") if root.get(k)
    }
    stack = list(root.get("children", []))
    while stack:
        node = stack.pop(0)
        if node.get("class") == "processor" and "cpu" not in out and node.get("product"):
            out["cpu"] = node["product"]
        if node.get("id") in ("memory", "memory:0") and node.get("class") == "memory":
            out.setdefault("memory_bytes", int(node.get("size", 0)))
        stack.extend(node.get("children", []))
    return out


def parse_dmidecode(text: str) -> dict[str, str]:
    """Manufacturer, product and serial of the "System Information" section."""
    out: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line and not line.startswith(("\t", " ")):
            section = line.strip()
            continue
        if section != "System Information" or ":" not in line:
            continue
        key, value = (x.strip() for x in line.split(":", 1))
        names = {"Manufacturer": "vendor", "Product Name": "product", "Serial Number": "serial"}
        if key in names:
            out[names[key]] = value
    return out


def parse_smartctl(text: str) -> dict[str, Any]:
    """Identity and health of one disk from `smartctl --json -a`."""
    if not text.strip():
        return {}
    data = json.loads(text)
    protocol = (data.get("device") or {}).get("protocol", "")
    hours = (data.get("power_on_time") or {}).get("hours")
    return {
        "model": data.get("model_name", ""),
        "serial": data.get("serial_number", ""),
        "size_bytes": int((data.get("user_capacity") or {}).get("bytes", 0)),
        "rotational": bool(data.get("rotation_rate")),
        "transport": "nvme" if protocol == "NVMe" else "sata" if protocol == "ATA" else "other",
        "smart_passed": (data.get("smart_status") or {}).get("passed"),
        "power_on_hours": hours,
    }


def battery_health(batteries: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for b in batteries:
        try:
            health = round(100 * int(b["full"]) / int(b["design"]), 1)
        except (KeyError, ValueError, ZeroDivisionError):
            health = None
        out.append({"name": b.get("name", ""), "health_percent": health, "cycles": b.get("cycles")})
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    tools = raw.get("tools", {})
    system = {**parse_dmidecode(tools.get("dmidecode", "")), **parse_lshw(tools.get("lshw", ""))}
    disks = []
    for disk in raw.get("disks", []):
        smart = parse_smartctl(raw.get("smartctl", {}).get(disk["path"], ""))
        disks.append({**disk, **{k: v for k, v in smart.items() if v not in ("", None, 0)}})
    return {
        "system": system,
        "disks": disks,
        "battery": battery_health(raw.get("battery", [])),
        "tools": sorted(tools),
    }


def collect_local(timeout: float = 600) -> dict[str, Any]:
    """The agent's raw facts about this machine (the bench PC itself), as over SSH."""
    done = subprocess.run(
        [sys.executable, str(AGENT), "facts"], capture_output=True, timeout=timeout, check=False
    )
    try:
        raw = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = done.stderr.decode(errors="replace").strip()[-300:]
        raise Invalid(f"Inventaire impossible sur cette machine : {detail}") from None
    if "error" in raw:
        raise Invalid(f"Inventaire impossible sur cette machine : {raw['error']}")
    return raw


async def store(
    device_id: int, summary: dict[str, Any], actor: str = "system", source: str = "deployment"
) -> None:
    """Merge the inventory into the device's facts, add the disks it did not know (by serial),
    and write the `hardware_inventoried` event, in one transaction."""
    async with write_transaction(Device):
        device = await Device.select().where(Device.id == device_id).first().output(load_json=True)
        if device is None:
            raise NotFound(f"Appareil {device_id} inconnu.")
        facts = dict(device["facts"] or {})
        facts["hardware"] = summary
        system = summary["system"]
        changes: dict[Any, Any] = {Device.facts: facts}
        for column, key in ((Device.brand, "vendor"), (Device.model, "product")):
            if not device[column._meta.name] and system.get(key):
                changes[column] = str(system[key])[:80]
        if not device["serial"] and system.get("serial"):
            changes[Device.serial] = str(system["serial"])[:80]
        if not device["cpu"] and system.get("cpu"):
            changes[Device.cpu] = str(system["cpu"])[:120]
        if not device["ram_mb"] and system.get("memory_bytes"):
            changes[Device.ram_mb] = int(system["memory_bytes"]) // 2**20
        await Device.update(changes).where(Device.id == device_id)
        known = {d["serial"] for d in await Disk.select().where(Disk.device == device_id)}
        for disk in summary["disks"]:
            if disk.get("serial") and disk["serial"] not in known:
                await Disk.insert(
                    Disk(
                        device=device_id,
                        model=str(disk.get("model", ""))[:120],
                        serial=str(disk["serial"])[:120],
                        size_bytes=int(disk.get("size_bytes", 0)),
                        transport=disk.get("transport", "other"),
                        rotational=bool(disk.get("rotational")),
                    )
                )
        suggestion = grading.suggest_for(
            {**device, **{c._meta.name: v for c, v in changes.items()}}
        )
        payload = {
            "source": source,
            "system": {k: system[k] for k in ("vendor", "product", "cpu") if system.get(k)},
            "disks": len(summary["disks"]),
            "batteries": len(summary["battery"]),
            "suggested_grade": suggestion.grade.value,
        }
        await devices.write_event(device_id, actor, INVENTORIED, None, None, payload)
