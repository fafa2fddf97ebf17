"""The school profile's parental control, written by the personalisation code into a real ext4
filesystem on a loop device: filtering DNS for NetworkManager and systemd-resolved, safe search in
/etc/hosts, browser policies against DNS over HTTPS; other profiles get none of it."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioning.imaging import personalise, profiles, target_personalise
from tests.support import unavailable

MiB = 1 << 20
IMAGE = {"name": "debian-test", "version": "12", "map_sha256": "ab" * 32}


@contextmanager
def mounted_ext4(folder: Path) -> Iterator[Path]:
    """A fresh ext4 filesystem on a loop device of its own, mounted, with a minimal /etc."""
    if os.geteuid() != 0:
        unavailable("a loop device and mount need root (CI=true runs this test)")
    image = folder / f"root-{uuid.uuid4().hex[:8]}.img"
    image.write_bytes(bytes(32 * MiB))
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    mount_point = folder / f"mnt-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    try:
        subprocess.run(["mount", device, str(mount_point)], check=True, capture_output=True)
        try:
            etc = mount_point / "etc"
            etc.mkdir()
            (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
            (etc / "group").write_text("root:x:0:\nsudo:x:27:\naudio:x:29:\n")
            (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
            (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
            yield mount_point
        finally:
            subprocess.run(["umount", str(mount_point)], capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)
        image.unlink(missing_ok=True)


def hosts_map(root: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in (root / "etc/hosts").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            names.setdefault(name, fields[0])
    return names


def test_the_school_profile_writes_a_parental_control_that_needs_no_network(
    tmp_path: Path,
) -> None:
    spec = personalise.spec_for("RE-000042-X", profiles.get_profile("ecole"), IMAGE)
    with mounted_ext4(tmp_path) as root:
        result = target_personalise.personalise(str(root), spec)
        assert "etc/hosts" in result["family_filter"]
        resolved = configparser.ConfigParser()
        resolved.read(root / "etc/systemd/resolved.conf.d/reemploi-famille.conf")
        assert resolved["Resolve"]["DNS"].split()[:2] == ["1.1.1.3", "1.0.0.3"]
        assert resolved["Resolve"]["FallbackDNS"] == ""
        manager = configparser.ConfigParser()
        manager.read(root / "etc/NetworkManager/conf.d/reemploi-famille.conf")
        assert manager["global-dns-domain-*"]["servers"].startswith("1.1.1.3,1.0.0.3")
        firefox = json.loads((root / "etc/firefox/policies/policies.json").read_text())
        assert firefox["policies"]["DNSOverHTTPS"] == {"Enabled": False, "Locked": True}
        chromium = root / "etc/chromium/policies/managed/reemploi-famille.json"
        assert json.loads(chromium.read_text()) == {"DnsOverHttpsMode": "off"}
        names = hosts_map(root)
        assert names["www.google.com"] == "216.239.38.120"
        assert names["www.youtube.com"] == "216.239.38.119"
        assert names["www.bing.com"] == "204.79.197.220"
        assert names["localhost"] == "127.0.0.1" and names["re-000042-x"] == "127.0.1.1"
        # The child's account is not an administrator; the parent's is.
        groups = (root / "etc/group").read_text()
        assert (
            "sudo:x:27:parent" in groups and "enfant" not in groups.split("sudo:")[1].split("\n")[0]
        )
        # Personalising again leaves one block, not two.
        target_personalise.family_filter(str(root))
        text = (root / "etc/hosts").read_text()
        assert text.count(target_personalise.HOSTS_BEGIN) == 1


@pytest.mark.parametrize("name", ["famille", "senior", "association"])
def test_other_profiles_get_no_filter(tmp_path: Path, name: str) -> None:
    spec = personalise.spec_for("RE-000043-Y", profiles.get_profile(name), IMAGE)
    with mounted_ext4(tmp_path) as root:
        result = target_personalise.personalise(str(root), spec)
        assert "family_filter" not in result
        assert not (root / "etc/systemd/resolved.conf.d").exists()
        assert "www.google.com" not in hosts_map(root)


def test_the_school_profile_says_what_it_does_not_do() -> None:
    assert profiles.get_profile("ecole").extra == {"family_filter": True}
    assert "temps d'écran" in profiles.FAMILY_FILTER_TEXT
    assert "VPN" in profiles.FAMILY_FILTER_TEXT
