"""Who a disk is: the drive's own answers (smartctl, hdparm, nvme-cli) merged with sysfs.

Standard library only: the wipe engine takes it to the live system (beside wipe.py), so a disk
wiped over SSH is named exactly as one wiped on the bench. sysfs alone misses what laptops need
(a SATA disk has no serial there, and its model is cut to 16 characters): the tools come first,
sysfs fills what they leave empty, and a tool that fails or prints nothing only costs its fields.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYS_BLOCK = Path("/sys/class/block")
Probe = Callable[[list[str]], str | None]  # a command's standard output, or None


@dataclass
class DiskIdentity:
    """Who a disk is, as far as the machine can tell; `warnings` are reported, never hidden."""

    path: str
    name: str
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""
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
    sources: list[str] = field(default_factory=list)  # the tools that answered, then sysfs
    warnings: list[str] = field(default_factory=list)

    @property
    def is_loop(self) -> bool:
        return self.name.startswith("loop")

    @property
    def clear_scheme(self) -> str:
        """Pattern then complement on USB flash and memory cards (DESIGN 5), zeros elsewhere."""
        flash = (self.transport == "usb" and not self.rotational) or self.transport == "mmc"
        return "pattern-complement" if flash else "zeros"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
            "size_bytes": self.size_bytes,
            "transport": self.transport,
            "rotational": self.rotational,
            "removable": self.removable,
            "media_type": self.media_type,
            "hidden_areas": self.hidden_areas,
            "hpa": list(self.hpa) if self.hpa else None,
            "dco_real_max": self.dco_real_max,
            "sources": list(self.sources),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiskIdentity:
        """The identity another machine sent (the live system's `wipe.py identify`)."""
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in data.items() if key in known}
        if values.get("hpa") is not None:
            visible, native, enabled = values["hpa"]
            values["hpa"] = (int(visible), int(native), bool(enabled))
        return cls(**values)


def _text(value: object) -> str:
    return str(value).strip() if isinstance(value, str | int) and value != "" else ""


def parse_smartctl_json(text: str) -> dict[str, Any]:
    """`smartctl --json -i` (or `-a`, `-x`): identity fields, only those the drive reported."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    raw_device = data.get("device")
    device = raw_device if isinstance(raw_device, dict) else {}
    protocol = str(device.get("protocol", "")).lower()
    found: dict[str, Any] = {
        "model": _text(data.get("model_name"))
        or " ".join(filter(None, (_text(data.get("vendor")), _text(data.get("product"))))),
        "serial": _text(data.get("serial_number")),
        "firmware": _text(data.get("firmware_version")) or _text(data.get("revision")),
        "manufacturer": _text(data.get("vendor")),
        "family": _text(data.get("model_family")),
    }
    capacity = data.get("user_capacity")
    size = capacity.get("bytes") if isinstance(capacity, dict) else None
    namespaces = data.get("nvme_namespaces")
    if not size and isinstance(namespaces, list) and namespaces:
        size = (namespaces[0].get("size") or {}).get("bytes")
    if not size:
        size = data.get("nvme_total_capacity")
    if isinstance(size, int) and size > 0:
        found["size_bytes"] = size
    if protocol == "nvme":
        found["transport"] = "nvme"
        found["rotational"] = False
    elif protocol == "ata":
        found["transport"] = "sata"  # behind a USB bridge too: sysfs tells which (see identify)
    rate = data.get("rotation_rate")
    if isinstance(rate, int):
        found["rotational"] = rate > 0  # 0 means "Solid State Device"
    return {key: value for key, value in found.items() if value not in ("", None)}


def parse_hdparm_identify(text: str) -> dict[str, Any]:
    """`hdparm -I`: model, serial, firmware, sectors, rotation, and the HPA/DCO feature lines."""
    found: dict[str, Any] = {}
    features: dict[str, bool] = {}
    in_features = False
    labels = {"Model Number": "model", "Serial Number": "serial", "Firmware Revision": "firmware"}
    for raw in text.splitlines():
        line = raw.strip()
        if raw[:1] not in (" ", "\t") and line:
            in_features = line.startswith("Commands/features")
            if line.startswith("ATA device"):
                found["ata"] = True
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() in labels and value.strip():
            found.setdefault(labels[key.strip()], value.strip())
        elif line.startswith("LBA48  user addressable sectors:"):
            found["lba48_sectors"] = int(value.split()[0])
        elif line.startswith("LBA    user addressable sectors:"):
            found["lba_sectors"] = int(value.split()[0])
        elif line.startswith("Logical  Sector size:") or line.startswith("Logical/Physical Sector"):
            found["sector_size"] = int(value.split()[0])
        elif line.startswith("Nominal Media Rotation Rate:"):
            found["rotational"] = "Solid State" not in value
        elif line.startswith("Transport:") and "Serial" in value:
            found["transport"] = "sata"
        elif in_features and line and line != "Enabled\tSupported:":
            enabled = line.startswith("*")
            features[line.lstrip("*").strip()] = enabled
    sectors = found.pop("lba48_sectors", None) or found.pop("lba_sectors", None)
    found.pop("lba_sectors", None)
    if sectors:
        found["size_bytes"] = sectors * found.get("sector_size", 512)
    for name, key in (
        ("Host Protected Area feature set", "hpa_feature"),
        ("Device Configuration Overlay feature set", "dco_feature"),
    ):
        if name in features:
            found[key] = "enabled" if features[name] else "supported"
    return found


def parse_nvme_id_ctrl_json(text: str) -> dict[str, Any]:
    """`nvme id-ctrl -o json`: model (mn), serial (sn), firmware (fr), capacity (tnvmcap)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    found: dict[str, Any] = {
        "model": _text(data.get("mn")),
        "serial": _text(data.get("sn")),
        "firmware": _text(data.get("fr")),
        "transport": "nvme",
        "rotational": False,
    }
    capacity = data.get("tnvmcap")
    if isinstance(capacity, int) and capacity > 0:
        found["size_bytes"] = capacity
    if not (found["model"] or found["serial"]):
        return {}
    return {key: value for key, value in found.items() if value != ""}


def parse_hpa(text: str) -> tuple[int, int, bool] | None:
    """`hdparm -N`: (visible max sectors, native max sectors, HPA enabled), or None."""
    match = re.search(r"max sectors\s*=\s*(\d+)/(\d+),\s*HPA is (enabled|disabled)", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3) == "enabled"


def parse_dco_real_max(text: str) -> int | None:
    """`hdparm --dco-identify`: the real max sectors the DCO allows, or None."""
    match = re.search(r"Real max sectors:\s*(\d+)", text)
    return int(match.group(1)) if match else None


def read_sysfs(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def run_tool(argv: list[str]) -> str | None:
    """A tool's standard output, whatever its exit status (smartctl's is a bit mask), or None."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout


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


_NVME_NS = re.compile(r"^(nvme\d+)n\d+$")


def nvme_controller(name: str) -> str | None:
    """`nvme0n1` → `/dev/nvme0` (Identify Controller and Sanitize are controller commands)."""
    match = _NVME_NS.match(name)
    return f"/dev/{match.group(1)}" if match else None


def media_type(identity: DiskIdentity) -> str:
    if identity.is_loop:
        return "Périphérique loop (fichier image)"
    if identity.transport == "nvme":
        return "SSD NVMe"
    if identity.transport == "mmc":
        return "Carte mémoire / eMMC"
    if identity.transport == "usb":
        return "Disque dur USB" if identity.rotational else "Clé USB / mémoire flash"
    return "Disque dur (HDD)" if identity.rotational else "SSD"


def _first(*values: object) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _loop_fallback(identity: DiskIdentity) -> None:
    backing = read_sysfs(SYS_BLOCK / identity.name / "loop" / "backing_file")
    identity.backing_file = backing
    try:
        inode = os.stat(backing).st_ino
    except OSError:
        inode = 0
    # A loop device has no serial: the backing file and its inode name it honestly.
    identity.manufacturer = identity.manufacturer or "Linux"
    identity.model = identity.model or "Loop (fichier image)"
    identity.serial = identity.serial or f"{Path(backing).name}#{inode}"


def probe_hidden_areas(identity: DiskIdentity, probe: Probe = run_tool) -> None:
    """HPA through `hdparm -N`, DCO through `hdparm --dco-identify` (ATA disks only)."""
    if identity.transport != "sata":
        identity.hidden_areas = (
            "sans objet (périphérique loop)" if identity.is_loop else "non vérifiable"
        )
        return
    identity.hpa = parse_hpa(probe(["hdparm", "-N", identity.path]) or "")
    identity.dco_real_max = parse_dco_real_max(
        probe(["hdparm", "--dco-identify", identity.path]) or ""
    )
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


def open_hidden_areas(
    identity: DiskIdentity, run: Callable[..., Any] = subprocess.run
) -> str | None:
    """Remove an HPA so that Clear reaches every sector; the refusal reason, or None.

    A DCO is never restored automatically (it can make a drive unusable): the wipe is refused
    with the command to run after checking. After `hdparm -N`, the kernel is asked to read the
    capacity again; a size that did not grow is a refusal, never a Clear of the visible part.
    """
    if identity.dco_real_max and identity.hpa and identity.dco_real_max > identity.hpa[1]:
        return (
            "Le DCO cache des secteurs : restaurez-le (hdparm --dco-restore, après vérification) "
            "puis relancez. Effacement non fait : il n'atteindrait pas tout le disque."
        )
    if not identity.hpa or not identity.hpa[2]:
        return None
    native = identity.hpa[1]
    command = ["hdparm", "--yes-i-know-what-i-am-doing", "-N", f"p{native}", identity.path]
    try:
        result = run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"HPA présente et impossible à retirer ({error})."
    if result.returncode != 0:
        return f"HPA présente et impossible à retirer ({result.stderr.strip()[:200]})."
    device = SYS_BLOCK / identity.name
    try:
        (device / "device" / "rescan").write_text("1")
    except OSError:
        pass  # checked below through the size
    sector = int(read_sysfs(device / "queue" / "logical_block_size") or 512)
    size = int(read_sysfs(device / "size") or 0) * 512
    if size < native * sector:
        return (
            f"HPA retirée mais le système voit encore {size} octets au lieu de "
            f"{native * sector} : redémarrez le poste puis relancez l'effacement."
        )
    identity.size_bytes = size
    identity.hidden_areas = f"HPA retirée avant effacement ({native} secteurs visibles)"
    return None


def merge_tools(identity: DiskIdentity, probe: Probe = run_tool) -> None:
    """Ask smartctl, then hdparm (ATA) or nvme-cli (NVMe); their answers come before sysfs's."""
    answers: list[tuple[str, dict[str, Any]]] = []
    smart = parse_smartctl_json(probe(["smartctl", "--json", "-i", identity.path]) or "")
    if smart:
        answers.append(("smartctl", smart))
    if identity.transport == "nvme":
        controller = nvme_controller(identity.name) or identity.path
        nvme = parse_nvme_id_ctrl_json(probe(["nvme", "id-ctrl", "-o", "json", controller]) or "")
        if nvme:
            answers.append(("nvme id-ctrl", nvme))
    elif identity.transport != "mmc":
        ata = parse_hdparm_identify(probe(["hdparm", "-I", identity.path]) or "")
        if ata.get("model") or ata.get("serial"):
            answers.append(("hdparm -I", ata))
    if not answers:
        return
    identity.sources.extend(source for source, _ in answers)

    def first(key: str) -> str:
        return _first(*(fields.get(key) for _, fields in answers))

    # The drive's own full model beats sysfs's (cut to 16 characters for ATA through libata).
    identity.model = first("model")
    identity.serial = first("serial")
    identity.firmware = first("firmware")
    identity.manufacturer = first("manufacturer")
    rotation = [fields["rotational"] for _, fields in answers if "rotational" in fields]
    if rotation:
        identity.rotational = bool(rotation[0])  # sysfs says "rotational" for most USB sticks
    if identity.transport == "other":
        transports = [f["transport"] for _, f in answers if f.get("transport") in ("sata", "nvme")]
        identity.transport = transports[0] if transports else "other"


def identify(
    path: str,
    *,
    properties: dict[str, str] | None = None,
    probe_tools: bool = True,
    probe: Probe = run_tool,
) -> DiskIdentity:
    """The identity of the whole disk at `path`: sysfs, then the tools, then hidden areas.

    `properties` are udev's when a udevd runs (the bench passes them); the live system has none.
    """
    real = os.path.realpath(path)
    if not stat.S_ISBLK(os.stat(real).st_mode):
        raise ValueError(f"{path} n'est pas un périphérique bloc.")
    name = Path(real).name
    sys_dir = SYS_BLOCK / name
    if (sys_dir / "partition").exists():
        raise ValueError(f"{path} est une partition : indiquez le disque entier.")
    properties = properties or {}
    identity = DiskIdentity(path=real, name=name)
    identity.size_bytes = int(read_sysfs(sys_dir / "size") or 0) * 512
    identity.rotational = read_sysfs(sys_dir / "queue" / "rotational") == "1"
    identity.removable = read_sysfs(sys_dir / "removable") == "1"
    identity.diskseq = read_sysfs(sys_dir / "diskseq")
    identity.transport = "other" if identity.is_loop else _transport(name, properties)
    if probe_tools:
        merge_tools(identity, probe)
    vendor = _first(properties.get("ID_VENDOR"), read_sysfs(sys_dir / "device" / "vendor"))
    identity.model = _first(
        identity.model,
        properties.get("ID_MODEL", "").replace("_", " "),
        read_sysfs(sys_dir / "device" / "model"),
    )
    identity.serial = _first(
        identity.serial,
        properties.get("ID_SERIAL_SHORT"),
        read_sysfs(sys_dir / "device" / "serial"),
        read_sysfs(sys_dir / "serial"),
    )
    identity.firmware = _first(
        identity.firmware,
        read_sysfs(sys_dir / "device" / "firmware_rev"),
        read_sysfs(sys_dir / "device" / "rev"),
    )
    # libata reports the vendor "ATA" for every SATA disk: that names no one.
    identity.manufacturer = _first(identity.manufacturer, "" if vendor == "ATA" else vendor)
    identity.sources.append("sysfs")
    if identity.is_loop:
        _loop_fallback(identity)
        identity.hidden_areas = "sans objet (périphérique loop)"
    else:
        if identity.transport == "usb":
            identity.warnings.append("Disque derrière un pont USB : la purge n'y est pas fiable.")
        if probe_tools:
            probe_hidden_areas(identity, probe)
    if not identity.serial:
        identity.warnings.append("Numéro de série absent : le disque est identifié par son modèle.")
    identity.media_type = media_type(identity)
    return identity
