"""Disk identity from genuine smartctl, hdparm and nvme-cli outputs, and from the real tools.

The stored outputs (tests/data/disk_identity/README.md says where each comes from) are those
of real drives; the tools are also run here on a loop device, whose errors and empty answers
must leave an identity from sysfs, never a crash.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioning import disk_identity
from provisioning.disk_identity import DiskIdentity

DATA = Path(__file__).parent / "data" / "disk_identity"
MiB = 1 << 20

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true",
    reason="loop devices need root (CI=true runs them anyway)",
)


def text(name: str) -> str:
    return (DATA / name).read_text()


@contextmanager
def loop_device(folder: Path, size: int = 8 * MiB) -> Iterator[str]:
    image = folder / f"disk-{uuid.uuid4().hex[:8]}.img"
    image.write_bytes(bytes(size))
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)
        image.unlink(missing_ok=True)


def answers(**outputs: str) -> disk_identity.Probe:
    """A probe answering with stored outputs by tool name; every other command prints nothing."""
    asked: list[list[str]] = []

    def probe(argv: list[str]) -> str | None:
        asked.append(argv)
        return outputs.get(argv[0])

    probe.asked = asked  # type: ignore[attr-defined]
    return probe


def test_smartctl_json_of_a_sata_ssd() -> None:
    found = disk_identity.parse_smartctl_json(text("smartctl-x-sata-ssd-samsung-860-evo.json"))
    assert found["model"] == "Samsung SSD 860 EVO 500GB"
    assert found["serial"] == "S3YZNB0KB00864E" and found["firmware"] == "RVT02B6Q"
    assert found["size_bytes"] == 500107862016 and found["rotational"] is False
    assert found["transport"] == "sata" and found["family"] == "Samsung based SSDs"


def test_smartctl_json_of_a_hard_disk_says_it_rotates() -> None:
    found = disk_identity.parse_smartctl_json(text("smartctl-a-sata-hdd-wdc-wd140edfz.json"))
    assert found["model"] == "WDC WD140EDFZ-11A0VA0" and found["serial"] == "9RK1XXXX"
    assert found["rotational"] is True and found["size_bytes"] == 14000519643136


def test_smartctl_json_of_nvme_controller_and_namespace() -> None:
    ctrl = disk_identity.parse_smartctl_json(text("smartctl-info-nvme-kioxia-kcd61lul3t84.json"))
    assert (ctrl["model"], ctrl["serial"], ctrl["firmware"]) == (
        "KCD61LUL3T84",
        "61Q0A05UT7B8",
        "8002",
    )
    assert ctrl["transport"] == "nvme" and ctrl["rotational"] is False
    assert ctrl["size_bytes"] == 3840755982336  # nvme_total_capacity: no namespace given
    ns = disk_identity.parse_smartctl_json(text("smartctl-all-nvme-intel-ssdpeknw010t8.json"))
    assert ns["model"] == "INTEL SSDPEKNW010T8" and ns["serial"] == "BTNH93710FS91P0B"
    assert ns["size_bytes"] == 1024209543168


def test_smartctl_json_of_a_scsi_disk_uses_vendor_and_revision() -> None:
    found = disk_identity.parse_smartctl_json(text("smartctl-scsi-hdd-seagate-st4000nm0043.json"))
    assert found["model"] == "SEAGATE ST4000NM0043" and found["manufacturer"] == "SEAGATE"
    assert found["firmware"] == "MS03" and found["rotational"] is True
    assert "transport" not in found  # SCSI says nothing of the bus: sysfs decides


def test_hdparm_identify_gives_model_serial_size_and_hidden_area_features() -> None:
    intel = disk_identity.parse_hdparm_identify(text("hdparm-I-intel-ssdsc2kw512g8.txt"))
    assert (intel["model"], intel["serial"], intel["firmware"]) == (
        "INTEL SSDSC2KW512G8",
        "PHLA75210153512DGN",
        "LHF002C",
    )
    assert intel["size_bytes"] == 1000215216 * 512 and intel["rotational"] is False
    assert intel["transport"] == "sata" and intel["hpa_feature"] == "enabled"
    assert "dco_feature" not in intel
    tesla = disk_identity.parse_hdparm_identify(text("hdparm-I-tesla-2tb.txt"))
    assert (tesla["model"], tesla["serial"]) == ("TESLA", "2022092T0075")
    assert tesla["size_bytes"] == 3907029168 * 512


def test_nvme_id_ctrl_json_strips_the_padding() -> None:
    found = disk_identity.parse_nvme_id_ctrl_json(text("nvme-id-ctrl-json-wdc-pc-sn730.json"))
    assert found["model"] == "WDC PC SN730 SDBQNTY-256G-1001"
    assert found["serial"] == "1951B3444502" and found["firmware"] == "11170101"
    assert found["size_bytes"] == 256060514304 and found["transport"] == "nvme"


@pytest.mark.parametrize("junk", ["", "not json", "[]", "{}", '{"device": null}', "null"])
def test_junk_gives_no_fields_and_no_crash(junk: str) -> None:
    assert disk_identity.parse_smartctl_json(junk).get("model") is None
    assert disk_identity.parse_nvme_id_ctrl_json(junk) == {}
    assert disk_identity.parse_hdparm_identify(junk) == {}
    assert disk_identity.parse_hpa(junk) is None and disk_identity.parse_dco_real_max(junk) is None


def test_nvme_tools_are_asked_about_the_controller_and_merged() -> None:
    identity = DiskIdentity(path="/dev/nvme0n1", name="nvme0n1", transport="nvme", model="x")
    probe = answers(nvme=text("nvme-id-ctrl-json-wdc-pc-sn730.json"))
    disk_identity.merge_tools(identity, probe)
    assert ["nvme", "id-ctrl", "-o", "json", "/dev/nvme0"] in probe.asked  # type: ignore[attr-defined]
    assert identity.model == "WDC PC SN730 SDBQNTY-256G-1001"
    assert identity.serial == "1951B3444502" and identity.firmware == "11170101"
    assert identity.sources == ["nvme id-ctrl"]


def test_smartctl_comes_first_and_hdparm_fills_the_rest() -> None:
    identity = DiskIdentity(path="/dev/sda", name="sda", transport="sata", rotational=True)
    smart = text("smartctl-x-sata-ssd-samsung-860-evo.json")
    disk_identity.merge_tools(
        identity, answers(smartctl=smart, hdparm=text("hdparm-I-tesla-2tb.txt"))
    )
    assert identity.model == "Samsung SSD 860 EVO 500GB" and identity.serial == "S3YZNB0KB00864E"
    assert identity.rotational is False  # the drive's rotation rate, not sysfs's guess
    assert identity.sources == ["smartctl", "hdparm -I"]
    alone = DiskIdentity(path="/dev/sdb", name="sdb", transport="sata")
    disk_identity.merge_tools(alone, answers(hdparm=text("hdparm-I-intel-ssdsc2kw512g8.txt")))
    assert (alone.model, alone.serial) == ("INTEL SSDSC2KW512G8", "PHLA75210153512DGN")


def test_a_dco_refuses_and_a_failing_hpa_removal_refuses() -> None:
    dco = DiskIdentity(path="/dev/sdz", name="sdz", hpa=(100, 100, False), dco_real_max=120)
    assert "DCO" in (disk_identity.open_hidden_areas(dco) or "")

    def failing(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 5, "", "SG_IO: bad/missing sense data")

    hpa = DiskIdentity(path="/dev/sdz", name="sdz", hpa=(90, 100, True))
    assert "impossible à retirer" in (disk_identity.open_hidden_areas(hpa, failing) or "")
    clean = DiskIdentity(path="/dev/sdz", name="sdz", hpa=(100, 100, False))
    assert disk_identity.open_hidden_areas(clean, failing) is None


def test_identity_crosses_the_wire_unchanged() -> None:
    identity = DiskIdentity(
        path="/dev/sda", name="sda", model="M", serial="S", hpa=(1, 2, True), warnings=["w"]
    )
    again = DiskIdentity.from_dict({"event": "identity", **identity.as_dict()})
    assert again == identity


@needs_root
def test_real_tools_on_a_loop_device_leave_a_sysfs_identity(tmp_path: Path) -> None:
    with loop_device(tmp_path) as device:
        outputs = {
            "smartctl": disk_identity.run_tool(["smartctl", "--json", "-i", device]),
            "hdparm": disk_identity.run_tool(["hdparm", "-I", device]),
            "nvme": disk_identity.run_tool(["nvme", "id-ctrl", "-o", "json", device]),
        }
        assert outputs["smartctl"] and '"smartctl"' in outputs["smartctl"]  # a JSON error
        assert not disk_identity.parse_smartctl_json(outputs["smartctl"]).get("model")
        assert disk_identity.parse_hdparm_identify(outputs["hdparm"] or "") == {}
        assert disk_identity.parse_nvme_id_ctrl_json(outputs["nvme"] or "") == {}
        assert (
            disk_identity.parse_hpa(disk_identity.run_tool(["hdparm", "-N", device]) or "") is None
        )
        identity = disk_identity.identify(device)
        assert identity.sources == ["sysfs"]
        assert identity.model == "Loop (fichier image)" and identity.serial.endswith(
            f"#{os.stat(next(tmp_path.glob('*.img'))).st_ino}"
        )
        assert identity.size_bytes == 8 * MiB and identity.transport == "other"
        # The same loop device, had it answered like a laptop's SSD: the tools' names win.
        smart = text("smartctl-x-sata-ssd-samsung-860-evo.json")
        named = disk_identity.identify(device, probe=answers(smartctl=smart))
        assert named.model == "Samsung SSD 860 EVO 500GB" and named.serial == "S3YZNB0KB00864E"
        assert named.transport == "sata" and named.sources == ["smartctl", "sysfs"]
