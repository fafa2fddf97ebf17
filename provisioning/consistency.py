"""What a reported wipe must show before the server signs it (DESIGN invariants 4 and 10).

Pure rules over the disk's size and the claimed result: a full read-back covers the whole disk,
a sample at least 10 % of it, a Clear wrote every byte, and a Purge carries its evidence (the
commands run, the completion status the drive reported, the marker check). `refusal` returns
the sentence that says why a claimed pass cannot be certified, or None.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import msgspec

SAMPLE_FRACTION = 0.10  # DESIGN 5: a sample reads back at least 10 % of the device
MARKER_SIZE = 4096  # bytes per purge marker, as the engine writes them (wipe.MARKER_SIZE)
MIN_MARKERS = 2  # at least the first and the last blocks
CLEAR_VERIFICATIONS = {"full", "sample"}
PURGE_VERIFICATION = "markers"
COMPLETED_STATES = {"completed", "completed_no_deallocate"}


Count = Annotated[int, msgspec.Meta(ge=0)]
Line = Annotated[str, msgspec.Meta(max_length=500)]


class MarkerCheck(msgspec.Struct, forbid_unknown_fields=True):
    """Markers written before the purge and read after it: none may have survived."""

    markers: Count
    survivors: Count
    passed: bool
    zeros: Count = 0
    ones: Count = 0
    other: Count = 0
    digest: Annotated[str, msgspec.Meta(max_length=64)] = ""


class PurgeEvidence(msgspec.Struct, forbid_unknown_fields=True):
    """What proves a firmware purge ran and completed; kept in the record's notes.

    Part of the finish command (`records.Outcome`): the API decodes it, the engine builds it.
    """

    # Each command line as run, e.g. "nvme sanitize /dev/nvme0 --sanact=2".
    commands: Annotated[list[Line], msgspec.Meta(max_length=8)]
    # The drive's own status at the end: "completed", "failed", "in_progress"…
    completion: Annotated[str, msgspec.Meta(max_length=40)]
    # Where that status was read: "nvme sanitize-log", "exit status 0"…
    completion_source: Annotated[str, msgspec.Meta(max_length=120)]
    markers: MarkerCheck
    # The drive's answer, as printed by the tool (trimmed).
    completion_detail: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    warnings: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=2000)]], msgspec.Meta(max_length=8)
    ] = []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PurgeEvidence:
        """From JSON kept in notes: unknown keys ignored, missing or bad ones raise
        msgspec.ValidationError."""
        known = {f for f in cls.__struct_fields__}
        marker_fields = set(MarkerCheck.__struct_fields__)
        fields = {k: v for k, v in data.items() if k in known}
        if isinstance(fields.get("markers"), dict):
            fields["markers"] = {k: v for k, v in fields["markers"].items() if k in marker_fields}
        return msgspec.convert(fields, cls)


def _octets(count: int) -> str:
    return f"{count:,}".replace(",", " ") + " octets"


def sample_minimum(size_bytes: int) -> int:
    return math.ceil(size_bytes * SAMPLE_FRACTION)


def refusal(
    *,
    size_bytes: int,
    method_type: str,
    method: str,
    verification_method: str,
    verification_result: str,
    verified_bytes: int,
    bytes_written: int,
    evidence: PurgeEvidence | None,
) -> str | None:
    """Why a claimed pass cannot be certified (a French sentence), or None when it holds."""
    if verification_result != "passed":
        return (
            "La vérification n'a pas réussi : un effacement ne peut être déclaré réussi sans "
            "elle. Aucun certificat."
        )
    if size_bytes <= 0:
        return (
            "La taille du disque est inconnue (0 octet) : impossible de vérifier que "
            "l'effacement le couvre. Aucun certificat."
        )
    if method_type == "purge":
        return _purge_refusal(method, verification_method, verified_bytes, evidence)
    if method_type != "clear":
        return f"Type de méthode inconnu « {method_type} » : aucun certificat."
    return _clear_refusal(size_bytes, verification_method, verified_bytes, bytes_written)


def _clear_refusal(
    size_bytes: int, verification_method: str, verified_bytes: int, bytes_written: int
) -> str | None:
    if verification_method not in CLEAR_VERIFICATIONS:
        return (
            f"Vérification « {verification_method or 'aucune'} » inconnue pour un Clear "
            "(relecture complète ou par échantillon attendue) : aucun certificat."
        )
    if bytes_written < size_bytes:
        return (
            f"Clear incomplet : {_octets(bytes_written)} écrits pour un disque de "
            f"{_octets(size_bytes)}. Aucun certificat."
        )
    if verification_method == "full" and verified_bytes < size_bytes:
        return (
            f"Relecture complète incomplète : {_octets(verified_bytes)} relus pour un disque de "
            f"{_octets(size_bytes)}. Aucun certificat."
        )
    if verification_method == "sample" and verified_bytes < sample_minimum(size_bytes):
        return (
            f"Échantillon trop petit : {_octets(verified_bytes)} relus, il en faut au moins 10 % "
            f"du disque ({_octets(sample_minimum(size_bytes))}). Aucun certificat."
        )
    return None


def _purge_refusal(
    method: str, verification_method: str, verified_bytes: int, evidence: PurgeEvidence | None
) -> str | None:
    if evidence is None:
        return (
            "Purge sans preuve : il faut la commande lancée, l'état de fin rendu par le disque "
            "et le contrôle des marqueurs. Aucun certificat."
        )
    if not method or not any(command.strip() for command in evidence.commands):
        return "Purge sans commande déclarée : aucun certificat."
    if verification_method != PURGE_VERIFICATION:
        return (
            "Une purge se vérifie par des marqueurs écrits avant et contrôlés après : "
            "aucun certificat."
        )
    if evidence.completion not in COMPLETED_STATES:
        return (
            f"Le disque n'a pas signalé la fin de la purge (état « {evidence.completion} », "
            f"lu par {evidence.completion_source or '?'}) : aucun certificat."
        )
    check = evidence.markers
    if check.markers < MIN_MARKERS:
        return "Contrôle des marqueurs absent ou trop court : aucun certificat."
    if check.survivors != 0 or not check.passed:
        return (
            f"{check.survivors} marqueurs sur {check.markers} ont survécu à la purge : "
            "aucun certificat."
        )
    if verified_bytes < check.markers * MARKER_SIZE:
        return (
            f"Les octets relus ({_octets(verified_bytes)}) ne couvrent pas les {check.markers} "
            "marqueurs contrôlés : aucun certificat."
        )
    return None
