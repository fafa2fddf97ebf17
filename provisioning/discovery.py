"""Disks on a bench: enumeration, identity, hidden areas, and add/remove events (pyudev).

No udevd runs in containers: udev properties are then absent, so identity falls back to sysfs
attributes and `smartctl -i`. The machine's own disks, zram, device-mapper and loop devices are
never offered, except loop devices whose backing file lies under an allowed folder (tests).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyudev

from provisioning import purge

SYS_BLOCK = Path("/sys/class/block")


@dataclass
class DiskIdentity:
    """Who a disk is, as far as the machine can tell; `warnings` are reported, never hidden."""

    path: str
    name: str
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    size_bytes: int = 0
    transport: str = "other"  # sata, nvme, usb, mmc, other
    rotational: bool = False
    removable: bool = False
    media_type: str = ""
    hidden_areas: str = "non vérifié"
    hpa: tuple[int, int, bool] | None = None
    dco_real_max: int | None = None
    diskseq: str = ""
    backing_file: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def is_loop(self) -> bool:
        return self.name.startswith("loop")

    @property
    def clear_scheme(self) -> str:
        """Pattern then complement on USB flash and memory cards (DESIGN 5), zeros elsewhere."""
        flash = (self.transport == "usb" and not self.rotational) or self.transport == "mmc"
        return "pattern-complement" if flash else "zeros"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "size_bytes": self.size_bytes,
            "transport": self.transport,
            "rotational": self.rotational,
            "media_type": self.media_type,
            "hidden_areas": self.hidden_areas,
            "warnings": list(self.warnings),
        }


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


def _transport(name: str, properties: dict[str, str]) -> str:
    bus = properties.get("ID_BUS", "")
    real = str((SYS_BLOCK / name).resolve())
    if bus == "usb" or "/usb" in real:
        return "usb"
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("mmcblk"):
        return "mmc"
    if bus == "ata" or "/ata" in real:
        return "sata"
    return "other"


def _media_type(identity: DiskIdentity) -> str:
    if identity.is_loop:
        return "Périphérique loop (fichier image)"
    if identity.transport == "nvme":
        return "SSD NVMe"
    if identity.transport == "mmc":
        return "Carte mémoire / eMMC"
    if identity.transport == "usb":
        return "Disque dur USB" if identity.rotational else "Clé USB / mémoire flash"
    return "Disque dur (HDD)" if identity.rotational else "SSD"


def parse_smartctl_info(text: str) -> dict[str, str]:
    """`smartctl -i`: model, serial and vendor from ATA, NVMe or SCSI sections."""
    found: dict[str, str] = {}
    keys = {
        "Device Model": "model",
        "Model Number": "model",
        "Product": "model",
        "Serial Number": "serial",
        "Serial number": "serial",
        "Vendor": "manufacturer",
        "Model Family": "family",
    }
    for line in text.splitlines():
        if ":" in line:
            key, value = (part.strip() for part in line.split(":", 1))
            if key in keys and value:
                found.setdefault(keys[key], value)
    return found


def _tool(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _loop_identity(identity: DiskIdentity) -> None:
    backing = _read(SYS_BLOCK / identity.name / "loop" / "backing_file")
    identity.backing_file = backing
    identity.manufacturer = "Linux"
    identity.model = "Loop (fichier image)"
    try:
        inode = os.stat(backing).st_ino
    except OSError:
        inode = 0
    # A loop device has no serial: the backing file and its inode name it honestly.
    identity.serial = f"{Path(backing).name}#{inode}"


def _hidden_areas(identity: DiskIdentity) -> None:
    """HPA through `hdparm -N`, DCO through `hdparm --dco-identify` (ATA disks only)."""
    if identity.transport != "sata":
        identity.hidden_areas = "sans objet" if identity.is_loop else "non vérifiable"
        return
    hpa_text = _tool(["hdparm", "-N", identity.path])
    dco_text = _tool(["hdparm", "--dco-identify", identity.path])
    identity.hpa = purge.parse_hpa(hpa_text or "")
    identity.dco_real_max = purge.parse_dco_real_max(dco_text or "")
    notes = []
    if identity.hpa is None:
        notes.append("HPA non vérifiable")
        identity.warnings.append("HPA non vérifiable (hdparm -N sans réponse).")
    elif identity.hpa[2]:
        hidden = identity.hpa[1] - identity.hpa[0]
        notes.append(f"HPA présente ({hidden} secteurs cachés)")
        identity.warnings.append(f"Zone cachée HPA de {hidden} secteurs.")
    else:
        notes.append("pas de HPA")
    native = identity.hpa[1] if identity.hpa else None
    if identity.dco_real_max is None:
        notes.append("DCO non vérifiable")
    elif native is not None and identity.dco_real_max > native:
        hidden = identity.dco_real_max - native
        notes.append(f"DCO réduit la capacité ({hidden} secteurs)")
        identity.warnings.append(f"Zone cachée DCO de {hidden} secteurs.")
    else:
        notes.append("pas de DCO")
    identity.hidden_areas = ", ".join(notes)


def identify(path: str, *, probe_tools: bool = True) -> DiskIdentity:
    """The identity of the whole disk at `path`, from udev, then sysfs, then smartctl."""
    real = os.path.realpath(path)
    if not stat.S_ISBLK(os.stat(real).st_mode):
        raise ValueError(f"{path} n'est pas un périphérique bloc.")
    name = Path(real).name
    sys_dir = SYS_BLOCK / name
    if (sys_dir / "partition").exists():
        raise ValueError(f"{path} est une partition : indiquez le disque entier.")
    properties: dict[str, str] = {}
    try:
        device = pyudev.Devices.from_device_file(pyudev.Context(), real)
        properties = dict(device.properties)
    except (pyudev.DeviceNotFoundError, OSError, ValueError):
        pass
    identity = DiskIdentity(path=real, name=name)
    identity.size_bytes = int(_read(sys_dir / "size") or 0) * 512
    identity.rotational = _read(sys_dir / "queue" / "rotational") == "1"
    identity.removable = _read(sys_dir / "removable") == "1"
    identity.diskseq = _read(sys_dir / "diskseq")
    identity.transport = "other" if name.startswith("loop") else _transport(name, properties)
    if identity.is_loop:
        _loop_identity(identity)
        identity.hidden_areas = "sans objet (périphérique loop)"
    else:
        identity.model = properties.get("ID_MODEL", "").replace("_", " ") or _read(
            sys_dir / "device" / "model"
        )
        identity.serial = properties.get("ID_SERIAL_SHORT", "") or _read(
            sys_dir / "device" / "serial"
        )
        identity.manufacturer = properties.get("ID_VENDOR", "") or _read(
            sys_dir / "device" / "vendor"
        )
        if probe_tools and not (identity.model and identity.serial):
            found = parse_smartctl_info(_tool(["smartctl", "-i", real]) or "")
            identity.model = identity.model or found.get("model", "")
            identity.serial = identity.serial or found.get("serial", "")
            identity.manufacturer = identity.manufacturer or found.get("manufacturer", "")
        if identity.transport == "usb":
            identity.warnings.append("Disque derrière un pont USB : la purge n'y est pas fiable.")
        if probe_tools:
            _hidden_areas(identity)
    if not identity.serial:
        identity.warnings.append("Numéro de série absent : le disque est identifié par son modèle.")
    identity.media_type = _media_type(identity)
    return identity


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


_NVME_NS = re.compile(r"^(nvme\d+)n\d+$")


def nvme_controller(name: str) -> str | None:
    """`nvme0n1` → `/dev/nvme0` (Sanitize is a controller command)."""
    match = _NVME_NS.match(name)
    return f"/dev/{match.group(1)}" if match else None
