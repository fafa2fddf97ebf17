"""The workshop's live-build configuration: package list and configuration syntax."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from tests.support import unavailable

LIVE = Path(__file__).parent.parent / "provisioning" / "live"
NEEDED = {
    "openssh-server", "python3", "zstd", "hdparm", "nvme-cli", "smartmontools", "lshw",
    "dmidecode", "gdisk", "e2fsprogs", "util-linux",
}  # fmt: skip


def packages() -> list[str]:
    text = (LIVE / "config/package-lists/reemploi.list.chroot").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_package_list_has_what_deployments_and_wipes_need():
    assert NEEDED <= set(packages())


def test_packages_exist_in_debian():
    if not shutil.which("apt-cache"):
        unavailable("apt-cache is missing")
    names = packages()
    shown = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", *names], capture_output=True, text=True
    )
    known = {
        line.split(": ", 1)[1] for line in shown.stdout.splitlines() if line.startswith("Package: ")
    }
    assert set(names) <= known, set(names) - known


def test_scripts_are_valid_shell():
    scripts = [*sorted((LIVE / "auto").iterdir()), LIVE / "build.sh"]
    scripts += sorted((LIVE / "config/hooks/live").glob("*.hook.chroot"))
    for script in scripts:
        assert script.stat().st_mode & 0o111, f"{script} is not executable"
        checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{script}: {checked.stderr}"
    assert "lb config noauto" in (LIVE / "auto/config").read_text()


def test_sshd_fragment_is_accepted_by_sshd(tmp_path):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        unavailable("openssh-server is missing")
    key = tmp_path / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    text = (LIVE / "config/includes.chroot/etc/ssh/sshd_config.d/reemploi.conf").read_text()
    text = text.replace("/etc/ssh/ssh_host_ed25519_key", str(key))
    config = tmp_path / "sshd_config"
    config.write_text(text + "UsePAM no\n")
    checked = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_fingerprint_unit_is_well_formed():
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.read(LIVE / "config/includes.chroot/etc/systemd/system/reemploi-fingerprint.service")
    assert unit["Service"]["ExecStart"].startswith("/bin/sh -c 'ssh-keygen -l")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
