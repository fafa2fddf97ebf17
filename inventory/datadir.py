"""The data directory is private: folders 0700, files 0600, and a check that names what is not.

It holds families' names in the database, minors' signatures, signed charters, the workshop's
keys and backups: nobody but the server's own account may read them. Files are written 0600
whatever the umask; the command line also sets umask 077 so that what SQLite, uvicorn's workers
or a library create (the database and its -wal and -shm files, images) is private too.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from inventory import config

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    """From now on, what this process (and its children) create is for its own account only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create the folder and its missing parents with mode 0700; existing ones are left alone."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        # mkdir's mode goes through the umask: say the mode itself.
        os.chmod(folder, DIR_MODE)
    return path


def write_private(path: Path, content: bytes) -> None:
    """Write the file atomically, readable and writable by the server's account only (0600)."""
    private_dir(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(content)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def loose_paths(root: Path | None = None) -> list[tuple[Path, int, int]]:
    """(path, mode, expected) for the folder and everything under it that others could open."""
    root = root or config.data_dir()
    if not root.is_dir():
        return []
    found = []

    def check(path: Path, expected: int) -> None:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:  # a temporary file gone meanwhile
            return
        if mode & ~expected:
            found.append((path, mode, expected))

    check(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            check(Path(folder) / name, DIR_MODE)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                check(path, FILE_MODE)
    return found


def warnings(root: Path | None = None) -> list[str]:
    """One French sentence per path whose mode lets other accounts of the machine read it."""
    return [
        f"Attention : {path} est en mode {mode:04o}, plus ouvert que {expected:04o} : d'autres "
        f"comptes de la machine peuvent le lire (corrigez avec « chmod {expected:o} {path} »)."
        for path, mode, expected in loose_paths(root)
    ]


def tighten(root: Path | None = None) -> list[str]:
    """Give every loose folder 0700 and file 0600 (an upgrade step); one sentence per change."""
    done = []
    for path, mode, expected in loose_paths(root):
        os.chmod(path, mode & expected)
        done.append(f"Droits resserrés : {path} ({mode:04o} → {mode & expected:04o}).")
    return done


def prepare() -> list[str]:
    """At start: private umask, data folder created 0700, and the warnings about loose paths."""
    restrict_new_files()
    private_dir(config.data_dir())
    return warnings()
