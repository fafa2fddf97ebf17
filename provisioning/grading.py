"""A suggested grade from the hardware facts: RAM, CPU generation, disk health, battery wear.

Pure: the device card shows the suggestion with its reasons, and a technician confirms it (the
device edit command writes the grade and its event). The grade is the worst of the criteria
known; with nothing known it stays « ? ».
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from inventory.states import Grade

_ORDER = {Grade.a: 0, Grade.b: 1, Grade.c: 2}
GIB = 1024
# Intel Core iN-XXXX(X): the generation is the first digit, or the first two from the 10th on.
_INTEL_CORE = re.compile(r"\bi[3579][- ](\d{4,5})", re.IGNORECASE)
_INTEL_CORE_ULTRA = re.compile(r"\bCore\s*\(?TM\)?\s*Ultra", re.IGNORECASE)
_RYZEN = re.compile(r"\bRyzen\s*(?:\d\s*)?(?:PRO\s*)?(\d)(\d{3})", re.IGNORECASE)
_LOW_END = re.compile(r"\b(Atom|Celeron|Pentium|Athlon|Sempron|Core\s*2|Core\(TM\)2)\b", re.I)


class Suggestion(msgspec.Struct):
    """The grade suggested and, per criterion, what was found and what it allows."""

    grade: Grade
    reasons: list[str]


def cpu_generation(cpu: str) -> tuple[str, int] | None:
    """("intel", 8) for « Intel Core i5-8250U », ("amd", 3) for « Ryzen 5 3500U », or None."""
    if _INTEL_CORE_ULTRA.search(cpu):
        return "intel", 14
    found = _INTEL_CORE.search(cpu)
    if found:
        digits = found[1]
        # i5-8250U: 8th; i7-10510U, i5-1135G7 (a leading 1 on four digits): 10th, 11th.
        two = len(digits) == 5 or digits.startswith("1")
        return "intel", int(digits[:2] if two else digits[0])
    found = _RYZEN.search(cpu)
    if found:
        return "amd", int(found[1])
    return None


def _cpu_grade(cpu: str) -> tuple[Grade, str] | None:
    if not cpu.strip():
        return None
    if _LOW_END.search(cpu):
        return Grade.c, f"processeur d'entrée de gamme ou ancien ({cpu}) : C"
    generation = cpu_generation(cpu)
    if generation is None:
        return None
    maker, number = generation
    if maker == "intel":
        grade = Grade.a if number >= 8 else Grade.b if number >= 4 else Grade.c
        return grade, f"processeur Intel de {number}e génération ({cpu}) : {grade.value}"
    grade = Grade.a if number >= 3 else Grade.b
    return grade, f"processeur AMD Ryzen série {number}000 ({cpu}) : {grade.value}"


def _ram_grade(ram_mb: int) -> tuple[Grade, str] | None:
    if ram_mb <= 0:
        return None
    grade = Grade.a if ram_mb >= 8 * GIB - 256 else Grade.b if ram_mb >= 4 * GIB - 256 else Grade.c
    return grade, f"mémoire de {round(ram_mb / GIB, 1):g} Gio : {grade.value}"


def _disk_grade(disk: Mapping[str, Any]) -> tuple[Grade, str] | None:
    name = str(disk.get("model") or disk.get("path") or "disque")
    if disk.get("smart_passed") is False:
        return Grade.c, f"{name} : santé SMART en échec : C"
    hours = disk.get("power_on_hours")
    if isinstance(hours, int | float) and hours >= 0:
        grade = Grade.a if hours < 20_000 else Grade.b if hours < 40_000 else Grade.c
        return grade, f"{name} : {int(hours)} heures de fonctionnement : {grade.value}"
    if disk.get("smart_passed") is True:
        return Grade.a, f"{name} : santé SMART bonne : A"
    return None


def battery_wear(battery: Mapping[str, Any]) -> float | None:
    """Wear in percent (100 − capacity left), or None when the battery does not say."""
    health = battery.get("health_percent")
    if not isinstance(health, int | float):
        return None
    return round(max(0.0, 100.0 - float(health)), 1)


def _battery_grade(battery: Mapping[str, Any]) -> tuple[Grade, str] | None:
    wear = battery_wear(battery)
    if wear is None:
        return None
    grade = Grade.a if wear <= 20 else Grade.b if wear <= 40 else Grade.c
    return grade, f"batterie usée à {wear:g} % : {grade.value}"


def suggest(
    *,
    ram_mb: int = 0,
    cpu: str = "",
    disks: Iterable[Mapping[str, Any]] = (),
    batteries: Iterable[Mapping[str, Any]] = (),
) -> Suggestion:
    """The worst grade any known criterion allows, with one reason per criterion."""
    found = [_ram_grade(ram_mb), _cpu_grade(cpu)]
    found += [_disk_grade(d) for d in disks]
    found += [_battery_grade(b) for b in batteries]
    known = [item for item in found if item is not None]
    if not known:
        return Suggestion(Grade.unknown, ["rien de connu sur le matériel : inventaire à faire"])
    worst = max((grade for grade, _ in known), key=_ORDER.__getitem__)
    return Suggestion(worst, [reason for _, reason in known])


def suggest_for(device: Mapping[str, Any]) -> Suggestion:
    """The suggestion for a device row: its RAM and CPU, and the inventory in its facts."""
    hardware = (device.get("facts") or {}).get("hardware") or {}
    system = hardware.get("system") or {}
    ram_mb = int(device.get("ram_mb") or 0) or int(system.get("memory_bytes") or 0) // 2**20
    return suggest(
        ram_mb=ram_mb,
        cpu=str(device.get("cpu") or system.get("cpu") or ""),
        disks=hardware.get("disks") or [],
        batteries=hardware.get("battery") or [],
    )
