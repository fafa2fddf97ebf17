"""Backup then restore round-trips a populated database (same rows, same events) on both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inventory import devices
from inventory.tables import Site
from tests.support import TABLES, new_donation, run
from web.demo import load_demo

pytestmark = pytest.mark.db
REEMPLOI = str(Path(sys.executable).parent / "reemploi")


def snapshot() -> dict[str, list[str]]:
    # Any Table class can run raw SQL; Site is just the handle.
    return {
        table: [
            repr(sorted(row.items())) for row in run(Site.raw(f"SELECT * FROM {table} ORDER BY id"))
        ]
        for table in TABLES
    }


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REEMPLOI, *args], capture_output=True, text=True, env=os.environ.copy())


def test_backup_then_restore_round_trips(db: None, tmp_path: Path) -> None:
    run(load_demo())
    before = snapshot()
    assert len(before["device"]) >= 40 and len(before["event"]) > 40
    backup_file = tmp_path / "backup.dump"
    done = cli("backup", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert backup_file.stat().st_size > 0

    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "after-backup"))
    assert snapshot() != before

    restored = cli("restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    assert snapshot() == before


def test_restoring_garbage_changes_nothing(db: None, tmp_path: Path) -> None:
    run(new_donation(2))
    before = snapshot()
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not a backup" * 100)
    result = cli("restore", str(garbage))
    assert result.returncode == 2
    assert "n'est pas une sauvegarde" in result.stderr
    missing = cli("restore", str(tmp_path / "absent.dump"))
    assert missing.returncode == 2 and "introuvable" in missing.stderr
    assert snapshot() == before
