"""Disks on a bench: enumeration, refusals, and add/remove events (pyudev).

Identity comes from `disk_identity` (smartctl, hdparm, nvme-cli, then sysfs), the same code the
live system runs before a wipe over SSH; udev's properties are added when a udevd runs. The
machine's own disks, zram, device-mapper and loop devices are never offered, except loop devices
whose backing file lies under an allowed folder (tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyudev

from provisioning.disk_identity import SYS_BLOCK, DiskIdentity, nvme_controller
from provisioning.disk_identity import identify as identify_disk

__all__ = ["DiskIdentity", "identify", "list_disks", "nvme_controller", "refusal", "watch"]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _disk_of(major_minor: str) -> str | None:
    """The whole-disk name holding a block device given as 'major:minor'."""
    link = Path("/sys/dev/block") / major_minor
    if not link.exists():
        return None
    real = link.resolve()
    if (real / "partition").exists():
        real = real.parent
    return real.name


def _underlying(name: str, seen: set[str] | None = None) -> set[str]:
    """A disk and, through device-mapper or md slaves, the disks under it."""
    seen = seen if seen is not None else set()
    if name in seen:
        return seen
    seen.add(name)
    for slave in (SYS_BLOCK / name / "slaves").glob("*"):
        parent = _disk_of(_read(slave / "dev")) or slave.name
        _underlying(parent, seen)
    return seen


def system_disks() -> set[str]:
    """Disks that hold a mounted file system or swap on this machine: never wiped."""
    names: set[str] = set()
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        fields = line.split()
        if len(fields) > 2 and not fields[2].startswith("0:"):
            disk = _disk_of(fields[2])
            if disk:
                names |= _underlying(disk)
    for line in _read(Path("/proc/swaps")).splitlines()[1:]:
        device = line.split()[0]
        try:
            rdev = os.stat(device).st_rdev
        except OSError:
            continue
        disk = _disk_of(f"{os.major(rdev)}:{os.minor(rdev)}")
        if disk:
            names |= _underlying(disk)
    return names


def refusal(name: str, allow_loop: Path | None, system: set[str] | None = None) -> str | None:
    """Why the disk `name` must not be wiped here, or None."""
    if name.startswith(("zram", "dm-", "ram", "md", "sr")):
        return f"{name} n'est pas un disque à effacer (zram, device-mapper, RAID ou lecteur)."
    if name in (system if system is not None else system_disks()):
        return f"{name} porte le système de cette machine : effacement refusé."
    if name.startswith("loop"):
        backing = _read(SYS_BLOCK / name / "loop" / "backing_file")
        if allow_loop is None:
            return f"{name} est un périphérique loop : autorisez-les explicitement."
        if not backing or not Path(backing).resolve().is_relative_to(allow_loop.resolve()):
            return f"{name} s'appuie sur {backing or 'rien'}, hors du dossier autorisé."
    if (SYS_BLOCK / name / "holders").exists() and any((SYS_BLOCK / name / "holders").iterdir()):
        return f"{name} est utilisé par device-mapper ou RAID : effacement refusé."
    return None


def identify(path: str, *, probe_tools: bool = True) -> DiskIdentity:
    """The identity of the whole disk at `path`: udev's properties when a udevd runs, then the
    tools and sysfs (`disk_identity.identify`)."""
    properties: dict[str, str] = {}
    try:
        device = pyudev.Devices.from_device_file(pyudev.Context(), os.path.realpath(path))
        properties = dict(device.properties)
    except (pyudev.DeviceNotFoundError, OSError, ValueError):
        pass
    return identify_disk(path, properties=properties, probe_tools=probe_tools)


def list_disks(allow_loop: Path | None = None) -> list[DiskIdentity]:
    """Disks that may be wiped here now (present, not refused), identified."""
    system = system_disks()
    disks = []
    for entry in sorted(SYS_BLOCK.iterdir()):
        name = entry.name
        if (entry / "partition").exists() or _read(entry / "size") in ("", "0"):
            continue
        if refusal(name, allow_loop, system) is None:
            disks.append(identify(f"/dev/{name}"))
    return disks


@dataclass(frozen=True)
class DiskEvent:
    action: str  # "add" or "remove"
    name: str
    path: str


def _monitor() -> pyudev.Monitor:
    context = pyudev.Context()
    # Without udevd, only the kernel's own uevents arrive (DESIGN 11).
    source = "udev" if Path("/run/udev/control").exists() else "kernel"
    monitor = pyudev.Monitor.from_netlink(context, source=source)
    monitor.filter_by("block")
    return monitor


def watch(timeout: float = 1.0) -> Iterator[DiskEvent | None]:
    """Disks appearing and disappearing; yields None every `timeout` seconds of quiet.

    Acts on `add` and `remove`. A `change` counts only when media appeared or vanished (a loop
    device attached on an existing node, a card in a reader), seen as the size going from or to
    zero or the disk sequence number changing: the `change` that closing a written device
    triggers keeps both, so a wiped disk is not taken for a new one.
    """
    monitor = _monitor()
    monitor.start()
    known: dict[str, tuple[bool, str]] = {}
    for entry in SYS_BLOCK.iterdir():
        known[entry.name] = (_read(entry / "size") not in ("", "0"), _read(entry / "diskseq"))
    while True:
        device = monitor.poll(timeout=timeout)
        if device is None:
            yield None
            continue
        if device.get("DEVTYPE") != "disk":
            continue
        name = device.sys_name
        path = device.device_node or f"/dev/{name}"
        if device.action == "remove":
            known.pop(name, None)
            yield DiskEvent("remove", name, path)
            continue
        if device.action not in ("add", "change"):
            continue
        size = _read(SYS_BLOCK / name / "size")
        state = (size not in ("", "0"), _read(SYS_BLOCK / name / "diskseq"))
        before = known.get(name)
        known[name] = state
        if device.action == "change" and before == state:
            continue
        if state[0] and (before is None or not before[0] or before[1] != state[1]):
            yield DiskEvent("add", name, path)
        elif not state[0] and before is not None and before[0]:
            yield DiskEvent("remove", name, path)
