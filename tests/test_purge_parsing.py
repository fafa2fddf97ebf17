"""Purge decisions from genuine `hdparm -I`, `nvme id-ctrl` and `nvme sanitize-log` outputs.

NO REAL PURGE RUNS HERE: this machine has no SATA or NVMe drive to sacrifice. These tests check
that the outputs of real drives (tests/data/SOURCES.md says where each comes from) are read
right and lead to the right command, or to the right refusal and advice.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from provisioning import purge

DATA = Path(__file__).parent / "data"


def text(name: str) -> str:
    return (DATA / name).read_text()


def test_frozen_ssd_with_sanitize_gets_block_erase_and_a_warning() -> None:
    # TESLA 2 TB SATA SSD (d-uzlov/k8s-homelab): frozen, SANITIZE + BLOCK_ERASE_EXT.
    info = purge.parse_hdparm_identify(text("hdparm-I-tesla-2tb-frozen-sanitize.txt"))
    assert (info.model, info.serial) == ("TESLA", "2022092T0075")
    assert info.frozen and info.sanitize and info.block_erase and not info.crypto_scramble
    assert info.security_supported and info.enhanced_erase and not info.locked
    assert info.solid_state is True
    plan = purge.plan_ata(info, "/dev/sdl", transport="sata", rotational=False)
    assert plan.method == "ata_sanitize_block_erase"
    assert plan.commands == [
        ["hdparm", "--yes-i-know-what-i-am-doing", "--sanitize-block-erase", "/dev/sdl"]
    ]
    assert plan.poll == ["hdparm", "--sanitize-status", "/dev/sdl"]
    assert any("veille" in warning for warning in plan.warnings)


def test_frozen_ssd_without_sanitize_is_refused_with_advice() -> None:
    # Intel SSDSC2KW512G8 (EamonZhang/eamonzhang.github.io): frozen, no SANITIZE.
    info = purge.parse_hdparm_identify(text("hdparm-I-intel-ssdsc2kw512g8-frozen.txt"))
    assert info.serial == "PHLA75210153512DGN" and info.frozen and not info.sanitize
    assert info.erase_minutes == 2
    with pytest.raises(purge.PurgeRefused, match="SANITIZE"):
        purge.plan_ata(info, "/dev/sdb", transport="sata", rotational=False)


def test_frozen_hard_disk_gets_the_suspend_advice() -> None:
    # The same genuine security block, read as if the drive were a hard disk.
    info = purge.parse_hdparm_identify(text("hdparm-I-intel-ssdsc2kw512g8-frozen.txt"))
    with pytest.raises(purge.PurgeRefused, match="veille"):
        purge.plan_ata(info, "/dev/sdb", transport="sata", rotational=True)


def test_not_frozen_hard_disk_gets_security_erase_enhanced() -> None:
    # colemanjp/quartz: `hdparm -I | egrep` of a drive not frozen, with enhanced erase.
    info = purge.parse_hdparm_identify(text("hdparm-I-egrep-not-frozen-enhanced.txt"))
    assert not info.frozen and info.enhanced_erase and info.security_supported
    plan = purge.plan_ata(info, "/dev/sdc", transport="sata", rotational=True)
    assert plan.method == "ata_security_erase_enhanced"
    assert plan.commands[0][:5] == [
        "hdparm",
        "--user-master",
        "u",
        "--security-set-pass",
        "reemploi",
    ]
    assert plan.commands[1][3] == "--security-erase-enhanced"


def test_usb_bridge_is_refused() -> None:
    info = purge.parse_hdparm_identify(text("hdparm-I-tesla-2tb-frozen-sanitize.txt"))
    with pytest.raises(purge.PurgeRefused, match="USB"):
        purge.plan_ata(info, "/dev/sdl", transport="usb", rotational=False)


def test_nvme_with_sanitize_gets_block_erase() -> None:
    # T-FORCE TM8FPL500G (d-uzlov/k8s-homelab): sanicap 0xa0000002, oacs 0x17, fna 0.
    ctrl = purge.parse_nvme_id_ctrl(text("nvme-id-ctrl-H-tforce-tm8fpl500g.txt"))
    assert ctrl.serial == "TPBF2210060060400308" and ctrl.model == "T-FORCE TM8FPL500G"
    assert ctrl.sanicap == 0xA0000002 and ctrl.block_erase and not ctrl.crypto_erase
    assert ctrl.format_supported and not ctrl.format_crypto
    plan = purge.plan_nvme(ctrl, "/dev/nvme0", "/dev/nvme0n1")
    assert plan.method == "nvme_sanitize_block_erase"
    assert plan.commands == [["nvme", "sanitize", "/dev/nvme0", "--sanact=2"]]
    assert plan.poll == ["nvme", "sanitize-log", "/dev/nvme0"]


def test_nvme_without_sanitize_falls_back_to_format_ses1() -> None:
    # Toshiba THNSN5512GPU7 (kitakar5525/note-linux-on-surface-book-1): sanicap 0, oacs 0x6.
    ctrl = purge.parse_nvme_id_ctrl(text("nvme-id-ctrl-H-toshiba-thnsn5512gpu7.txt"))
    assert ctrl.sanicap == 0 and not (ctrl.block_erase or ctrl.crypto_erase or ctrl.overwrite)
    assert ctrl.model.startswith("THNSN5512GPU7")
    plan = purge.plan_nvme(ctrl, "/dev/nvme0", "/dev/nvme0n1")
    assert plan.method == "nvme_format_ses1"
    assert plan.commands == [["nvme", "format", "/dev/nvme0n1", "--ses=1", "--force"]]


def test_sanitize_log_in_progress_then_completed() -> None:
    # miniedwins/learning: the same block erase, read twice.
    running = purge.parse_nvme_sanitize_log(text("nvme-sanitize-log-in-progress.txt"))
    assert running.state == "in_progress" and running.command == 2
    assert 49 < running.percent < 50
    done = purge.parse_nvme_sanitize_log(text("nvme-sanitize-log-completed.txt"))
    assert done.state == "completed" and done.global_data_erased and done.percent == 100


def test_execute_follows_the_sanitize_log_until_completed() -> None:
    """The polling loop, fed the genuine logs in order (the commands themselves are not run)."""
    answers = [
        subprocess.CompletedProcess([], 0, "", ""),
        subprocess.CompletedProcess([], 0, text("nvme-sanitize-log-in-progress.txt"), ""),
        subprocess.CompletedProcess([], 0, text("nvme-sanitize-log-completed.txt"), ""),
    ]
    seen: list[Sequence[str]] = []

    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        seen.append(list(argv))
        return answers.pop(0)

    ctrl = purge.parse_nvme_id_ctrl(text("nvme-id-ctrl-H-tforce-tm8fpl500g.txt"))
    plan = purge.plan_nvme(ctrl, "/dev/nvme0", "/dev/nvme0n1")
    percents: list[float] = []
    purge.execute(plan, runner, progress=percents.append, sleep=lambda _: None)
    assert seen[0] == ["nvme", "sanitize", "/dev/nvme0", "--sanact=2"]
    assert seen[1:] == [["nvme", "sanitize-log", "/dev/nvme0"]] * 2
    assert percents[-1] == 100 and percents[0] < 50


def test_a_failing_purge_command_is_reported() -> None:
    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 5, "", "SG_IO: bad/missing sense data")

    info = purge.parse_hdparm_identify(text("hdparm-I-tesla-2tb-frozen-sanitize.txt"))
    plan = purge.plan_ata(info, "/dev/sdl", transport="sata", rotational=False)
    with pytest.raises(purge.PurgeRefused, match="SG_IO"):
        purge.execute(plan, runner, sleep=lambda _: None)
