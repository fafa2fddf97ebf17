"""Firmware purge through hdparm and nvme-cli: parsing their output, choosing, running.

Standard library only, like the engine, so the live system can run it too. Parsers take the
text the tools print; `plan_*` decide from it and either return a plan or say why not, with
advice a technician can act on (a frozen drive, a USB bridge, no purge command at all).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

try:
    from provisioning import disk_identity
except ImportError:  # on the live system, beside disk_identity.py
    import disk_identity  # type: ignore[no-redef]

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]

FROZEN_ADVICE = (
    "Le disque est gelé (« frozen ») : le BIOS a verrouillé les commandes de sécurité au "
    "démarrage. Mettez le poste en veille puis réveillez-le (systemctl suspend, ou "
    "rtcwake -m mem -s 10), ou débranchez et rebranchez le disque à chaud, puis relancez."
)


def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class AtaInfo:
    """What `hdparm -I` says about purge: security state and the SANITIZE feature set."""

    model: str = ""
    serial: str = ""
    security_supported: bool = False
    security_enabled: bool = False
    locked: bool = False
    frozen: bool = False
    enhanced_erase: bool = False
    sanitize: bool = False
    block_erase: bool = False
    crypto_scramble: bool = False
    overwrite: bool = False
    solid_state: bool | None = None
    erase_minutes: int | None = None


def _flag(lines: list[str], word: str) -> bool | None:
    """In the Security block, `\\tnot\\tfrozen` means False and `\\t\\tfrozen` True."""
    for line in lines:
        parts = line.split()
        if parts and parts[-1] == word and len(parts) <= 2:
            return parts[0] != "not"
    return None


def parse_hdparm_identify(text: str) -> AtaInfo:
    features = set()
    security: list[str] = []
    in_security = False
    identity = disk_identity.parse_hdparm_identify(text)  # model and serial: one reader of them
    solid_state = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Security:"):
            in_security = True
            continue
        if in_security and raw[:1] not in (" ", "\t") and line:
            in_security = False
        if in_security:
            security.append(line)
        if line.startswith("Nominal Media Rotation Rate:"):
            solid_state = "Solid State" in line
        elif line.startswith("*"):
            features.add(line.lstrip("* \t"))
    if "Security:" not in text:
        # Output filtered through grep, as often published: every line is a security line.
        security = [line.strip() for line in text.splitlines()]
    supported = any(s.split() == ["supported"] for s in security)
    enhanced = any("supported: enhanced erase" in s and not s.startswith("not") for s in security)
    minutes = None
    for s in security:
        match = re.search(r"(\d+)min for (ENHANCED )?SECURITY ERASE UNIT", s)
        if match:
            minutes = int(match.group(1))
    return AtaInfo(
        model=identity.get("model", ""),
        serial=identity.get("serial", ""),
        # A drive that offers enhanced erase has the security feature set, listed or not.
        security_supported=supported or enhanced,
        security_enabled=bool(_flag(security, "enabled")),
        locked=bool(_flag(security, "locked")),
        frozen=bool(_flag(security, "frozen")),
        enhanced_erase=enhanced,
        sanitize="SANITIZE feature set" in features,
        block_erase="BLOCK_ERASE_EXT command" in features,
        crypto_scramble="CRYPTO_SCRAMBLE_EXT command" in features,
        overwrite="OVERWRITE_EXT command" in features,
        solid_state=solid_state,
        erase_minutes=minutes,
    )


@dataclass(frozen=True)
class NvmeController:
    """The fields of `nvme id-ctrl` that decide a purge: SANICAP, OACS (format) and FNA."""

    model: str
    serial: str
    sanicap: int
    oacs: int
    fna: int

    @property
    def crypto_erase(self) -> bool:
        return bool(self.sanicap & 0b001)

    @property
    def block_erase(self) -> bool:
        return bool(self.sanicap & 0b010)

    @property
    def overwrite(self) -> bool:
        return bool(self.sanicap & 0b100)

    @property
    def format_supported(self) -> bool:
        return bool(self.oacs & 0b10)

    @property
    def format_crypto(self) -> bool:
        return bool(self.fna & 0b100)


def parse_nvme_id_ctrl(text: str) -> NvmeController:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z0-9_]+)\s*:\s*(.*)$", line)
        if match:
            fields.setdefault(match.group(1), match.group(2).strip())
    # nvme-cli prints these with "%#x": "0" or "0x1f" (int(..., 0) reads both).
    return NvmeController(
        model=fields.get("mn", ""),
        serial=fields.get("sn", ""),
        sanicap=int(fields.get("sanicap", "0"), 0),
        oacs=int(fields.get("oacs", "0"), 0),
        fna=int(fields.get("fna", "0"), 0),
    )


SANITIZE_STATES = {
    0: "never",
    1: "completed",
    2: "in_progress",
    3: "failed",
    4: "completed_no_deallocate",
}


@dataclass(frozen=True)
class SanitizeLog:
    progress: int  # SPROG, out of 65536; 65535 once nothing is running
    status: int  # SSTAT
    command: int  # SCDW10: the sanitize action of the most recent operation

    @property
    def state(self) -> str:
        return SANITIZE_STATES.get(self.status & 0x7, "unknown")

    @property
    def global_data_erased(self) -> bool:
        return bool(self.status & 0x100)

    @property
    def percent(self) -> float:
        return 100.0 if self.state != "in_progress" else self.progress * 100 / 65536


def parse_nvme_sanitize_log(text: str) -> SanitizeLog:
    def value(tag: str) -> int:
        match = re.search(rf"\({tag}\)\s*:\s*(0x[0-9a-fA-F]+|\d+)", text)
        if match is None:
            raise ValueError(f"{tag} absent de la sortie de nvme sanitize-log.")
        return int(match.group(1), 0)

    return SanitizeLog(progress=value("SPROG"), status=value("SSTAT"), command=value("SCDW10"))


@dataclass(frozen=True)
class PurgePlan:
    """One firmware purge: what runs, how it is called on a certificate, how to follow it."""

    method: str  # e.g. "ata_sanitize_block_erase"
    label: str  # French, for the certificate
    commands: list[list[str]]
    poll: list[str] | None = None  # status command to repeat until done
    kind: str = "ata"  # "ata" or "nvme"
    warnings: list[str] = field(default_factory=list)


class PurgeRefused(Exception):
    """No purge is possible or safe now; the message says why and what to do."""


HDPARM_DANGER = "--yes-i-know-what-i-am-doing"


def plan_ata(info: AtaInfo, device: str, *, transport: str, rotational: bool) -> PurgePlan:
    """ATA SANITIZE when the drive has it; SECURITY ERASE ENHANCED on hard disks; else refuse."""
    if transport == "usb":
        raise PurgeRefused(
            "Disque branché par un pont USB : les commandes de purge ATA n'y passent pas de "
            "façon fiable. Branchez-le en SATA, ou faites un effacement Clear."
        )
    if info.sanitize:
        warnings = []
        if info.frozen:
            # Security freeze does not block SANITIZE, but a BIOS may also freeze-lock it.
            warnings.append("Sécurité ATA gelée : si SANITIZE est refusé, " + FROZEN_ADVICE)
        for supported, action, method, label in (
            (info.block_erase, "--sanitize-block-erase", "ata_sanitize_block_erase",
             "ATA SANITIZE, effacement des blocs (BLOCK ERASE)"),
            (info.crypto_scramble, "--sanitize-crypto-scramble", "ata_sanitize_crypto_scramble",
             "ATA SANITIZE, effacement cryptographique (CRYPTO SCRAMBLE)"),
            (info.overwrite, "--sanitize-overwrite-passes", "ata_sanitize_overwrite",
             "ATA SANITIZE, réécriture par le micrologiciel (OVERWRITE)"),
        ):  # fmt: skip
            if supported:
                command = ["hdparm", HDPARM_DANGER, action]
                if method == "ata_sanitize_overwrite":
                    command += ["1", "--sanitize-overwrite", "hex:00000000"]
                return PurgePlan(
                    method=method,
                    label=label,
                    commands=[command + [device]],
                    poll=["hdparm", "--sanitize-status", device],
                    warnings=warnings,
                )
    if not rotational:
        raise PurgeRefused(
            "Ce SSD ne propose pas ATA SANITIZE : SECURITY ERASE n'y est pas une purge "
            "fiable. Faites un effacement Clear (ou détruisez le support)."
        )
    if not info.security_supported or not info.enhanced_erase:
        raise PurgeRefused(
            "Ce disque ne propose ni SANITIZE ni SECURITY ERASE ENHANCED : faites un "
            "effacement Clear."
        )
    if info.frozen:
        raise PurgeRefused(FROZEN_ADVICE)
    if info.locked or info.security_enabled:
        raise PurgeRefused(
            "Le disque a déjà un mot de passe ATA (sécurité activée) : retirez-le avant une "
            "purge, ou faites un effacement Clear."
        )
    password = "reemploi"
    return PurgePlan(
        method="ata_security_erase_enhanced",
        label="ATA SECURITY ERASE UNIT, mode renforcé (ENHANCED)",
        commands=[
            ["hdparm", "--user-master", "u", "--security-set-pass", password, device],
            ["hdparm", "--user-master", "u", "--security-erase-enhanced", password, device],
        ],
    )


def plan_nvme(ctrl: NvmeController, controller: str, namespace: str) -> PurgePlan:
    """NVMe Sanitize (block erase, crypto erase, overwrite), else Format with SES=2 or 1."""
    for supported, sanact, method, label in (
        (ctrl.block_erase, 2, "nvme_sanitize_block_erase", "NVMe Sanitize, effacement des blocs"),
        (ctrl.crypto_erase, 4, "nvme_sanitize_crypto_erase",
         "NVMe Sanitize, effacement cryptographique"),
        (ctrl.overwrite, 3, "nvme_sanitize_overwrite", "NVMe Sanitize, réécriture"),
    ):  # fmt: skip
        if supported:
            return PurgePlan(
                method=method,
                label=label,
                commands=[["nvme", "sanitize", controller, f"--sanact={sanact}"]],
                poll=["nvme", "sanitize-log", controller],
                kind="nvme",
            )
    if ctrl.format_supported:
        ses = 2 if ctrl.format_crypto else 1
        label = (
            "NVMe Format, effacement cryptographique (SES=2)"
            if ses == 2
            else "NVMe Format, effacement des données (SES=1)"
        )
        return PurgePlan(
            method=f"nvme_format_ses{ses}",
            label=label,
            commands=[["nvme", "format", namespace, f"--ses={ses}", "--force"]],
            kind="nvme",
        )
    raise PurgeRefused("Ce SSD NVMe ne propose ni Sanitize ni Format : faites un effacement Clear.")


@dataclass(frozen=True)
class Completion:
    """How the drive said the purge ended: the evidence a Purge certificate needs."""

    state: str  # "completed" or "completed_no_deallocate" once done
    source: str  # where the state was read
    detail: str = ""  # the tool's answer, trimmed


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])[:500]


def ata_sanitize_done(text: str) -> bool | None:
    """`hdparm --sanitize-status`: True when done, False while running, None if unreadable."""
    if "SD2" in text or "In Process" in text:
        return False
    if "SD0" in text or "SD4" in text or "completed" in text.lower():
        return True
    return None


def execute(
    plan: PurgePlan,
    runner: Runner = run,
    *,
    progress: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 6 * 3600,
) -> Completion:
    """Run the plan's commands, then follow its status until the drive says it is done."""
    result = None
    for command in plan.commands:
        result = runner(command)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
            raise PurgeRefused(f"« {' '.join(command[:3])} » a échoué : {message[0]}")
    if plan.poll is None:
        # SECURITY ERASE UNIT and NVMe Format return only once the drive has completed them:
        # the drive's status is the command's own.
        last = plan.commands[-1]
        return Completion(
            state="completed",
            source=f"statut de « {' '.join(last[:3])} » (commande synchrone, code 0)",
            detail=_tail(result.stdout + result.stderr) if result is not None else "",
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = runner(plan.poll)
        if plan.kind == "nvme":
            log = parse_nvme_sanitize_log(status.stdout)
            if progress:
                progress(log.percent)
            if log.state == "failed":
                raise PurgeRefused("Le disque signale l'échec de l'opération Sanitize.")
            if log.state.startswith("completed"):
                return Completion(log.state, " ".join(plan.poll[:2]), _tail(status.stdout))
        else:
            done = ata_sanitize_done(status.stdout)
            if done:
                return Completion("completed", " ".join(plan.poll[:2]), _tail(status.stdout))
        sleep(5)
    raise PurgeRefused("La purge n'a pas abouti dans le temps imparti.")
