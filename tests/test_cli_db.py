"""The command line: help on every command, users from standard input, tokens, the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inventory.tables import Device
from tests.support import run
from web import accounts
from web.cli import main

REEMPLOI = str(Path(sys.executable).parent / "reemploi")


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REEMPLOI, *args], input=stdin, capture_output=True, text=True, env=os.environ.copy()
    )


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.returncode == 0
    assert main.commands[command].help and main.commands[command].help in " ".join(
        result.stdout.split()
    )


@pytest.mark.db
def test_createuser_reads_the_password_from_stdin(db: None) -> None:
    result = cli("createuser", "nadia", "--role", "mediator", stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    assert run(accounts.open_session("nadia", "correct horse battery")) is not None
    assert run(accounts.open_session("nadia", "wrong password!!")) is None
    second = cli("createuser", "omar", "--role", "technician", stdin="another long password\n")
    assert second.returncode == 0, second.stderr
    again = cli("createuser", "nadia", "--role", "mediator", stdin="correct horse battery\n")
    assert again.returncode == 2 and "existe déjà" in again.stderr
    short = cli("createuser", "bob", "--role", "admin", stdin="short\n")
    assert short.returncode == 2 and "10 caractères" in short.stderr
    bad_role = cli("createuser", "eve", "--role", "boss", stdin="long enough pw\n")
    assert bad_role.returncode == 2 and "Rôle inconnu" in bad_role.stderr


@pytest.mark.db
def test_token_prints_a_working_bearer_token(db: None) -> None:
    result = cli("token", "station-1", "--role", "technician")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    principal = run(accounts.principal_for_token(token))
    assert principal is not None and principal.role == "technician"
    assert principal.actor == "token:station-1"


@pytest.mark.db
def test_demo_loads_a_living_system_once(db: None) -> None:
    first = cli("demo", "--if-empty")
    assert first.returncode == 0, first.stderr
    assert "admin /" in first.stdout
    states = {row["state"] for row in run(Device.select(Device.state))}
    assert {"received", "to_wipe", "wiped", "imaged", "ready", "in_repair", "retired"} <= states
    assert "loaned" in states  # lent under the demo charter, through the loans services
    assert 38 <= run(Device.count()) <= 45
    second = cli("demo", "--if-empty")
    assert "déjà" in second.stdout
    assert 38 <= run(Device.count()) <= 45
