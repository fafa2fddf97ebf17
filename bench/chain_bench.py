"""Chained deployment benchmark: 8 PCs behind one uplink shaped to 100 Mbit/s.

Run as root: `.venv/bin/python bench/chain_bench.py`. One workshop LAN (a bridge in a network
namespace, tests/sshtargets.py `Lab(lan=True)`): eight real sshd PCs with loop disks, and the
server's single link into the bridge shaped with `tc tbf` to 100 Mbit/s both ways. The image is
512 MiB, half of it mapped with incompressible data, so the link is what costs. In one run:

1. time(1 PC): `reemploi image deploy` to one PC (every step: inventory, ranges, read-back,
   GPT, personalisation);
2. time(8 PCs chained): the same to all eight, the server feeding the first, each PC writing and
   forwarding to the next;
3. time(8 PCs unicast): the same eight, the server feeding each.

Goal (issue 15): time(8 chained) <= 1.25 x time(1). A missed goal is printed as missed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="reemploi-chain-bench-", dir="/var/tmp"))
os.environ["REEMPLOI_DATA_DIR"] = str(WORK / "data")
os.environ["PICCOLO_CONF"] = "web.piccolo_conf"
os.environ["REEMPLOI_DB_POOL"] = "0"
os.environ.pop("REEMPLOI_DATABASE_URL", None)

MIB = 2**20
IMAGE_BYTES = 512 * MIB
PCS = 8
UPLINK = os.environ.get("REEMPLOI_BENCH_UPLINK", "100mbit")
GOAL = 1.25
FOLDER = os.environ.get("REEMPLOI_BENCH_DISKS", "/dev/shm")


async def wiped_devices(count: int) -> list[str]:
    from inventory import devices
    from tests.support import new_donation

    tags = await new_donation(count)
    for tag in tags:
        device = await devices.get_device(tag)
        disk = await devices.add_disk(device["id"], model="bench", serial=f"B-{tag}", size_bytes=1)
        await devices.apply_transition(tag, "triage", "bench")
        await devices.record_disk_sanitized(disk, True, "bench", {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", "bench")
    return tags


def deploy(lab, targets, mode: str) -> float:
    """Seconds for one deployment to `targets`; stops the bench if a PC failed."""
    from provisioning.imaging.deploy import Mode, Options, Target, deploy

    for target in targets:  # a blank disk each time: nothing left from the previous run
        with open(target.disk_file, "r+b") as f:
            f.truncate(0)
            f.truncate(lab.disk_bytes)
    tags = asyncio.run(wiped_devices(len(targets)))
    wanted = [Target(t.host, tag, disk=t.disk) for t, tag in zip(targets, tags, strict=True)]
    options = Options(pkey=lab.client_key, actor="bench", open_socket=lab.open_socket)
    start = time.perf_counter()
    jobs = asyncio.run(deploy("chain-bench", "famille", wanted, options, Mode(mode)))
    seconds = time.perf_counter() - start
    failed = [f"{j['asset_tag']}: {j['reason']}" for j in jobs if j["status"] != "passed"]
    if failed:
        raise SystemExit(f"deployment ({mode}) failed: {'; '.join(failed)}")
    for label, job in (
        (("first", jobs[0]), ("last", jobs[-1])) if len(jobs) > 1 else [("", jobs[0])]
    ):
        marks = [datetime.fromisoformat(s["at"]) for s in job["steps"]]
        print(
            f"  steps{' of the ' + label + ' PC' if label else ''}: "
            + ", ".join(
                f"{s['phase']} {(b - a).total_seconds():.1f} s"
                for s, a, b in zip(job["steps"], marks, marks[1:], strict=False)
            )
        )
    return seconds


def main() -> int:
    if os.geteuid() != 0:
        print("needs root (network namespaces, loop devices)")
        return 2
    from provisioning.imaging import hostkeys, images
    from tests.sshtargets import Lab, build_test_image
    from web.database import migrate

    asyncio.run(migrate())
    raw = WORK / "chain.img"
    build_test_image(raw, size=IMAGE_BYTES, random_bytes=IMAGE_BYTES // 2)
    image = asyncio.run(images.add_image("chain-bench", raw, version="1", actor="bench"))
    raw.unlink()
    print(
        f"image: {image['size_bytes'] / MIB:.0f} MiB, mapped {image['mapped_bytes'] / MIB:.0f} "
        f"MiB (random), zstd {image['compressed_bytes'] / MIB:.0f} MiB; {PCS} PCs on one bridge, "
        f"the server's link shaped to {UPLINK} both ways; PC disks: loop devices in {FOLDER}",
        flush=True,
    )
    # The PCs' disks in memory: on this one machine, eight loop disks over files of one real
    # disk would measure that disk (about 150 MB/s here), not the network nor the chain.
    lab = Lab(PCS, disk_bytes=IMAGE_BYTES + 64 * MIB, lan=True, uplink=UPLINK, folder=FOLDER)
    with lab:
        for target in lab.targets:
            key = hostkeys.parse_public_key(target.public_key_line())
            asyncio.run(hostkeys.enrol(target.host, key))
        one = deploy(lab, lab.targets[:1], "unicast")
        print(f"time(1 PC): {one:.1f} s", flush=True)
        chained = deploy(lab, lab.targets, "chained")
        print(f"time({PCS} PCs chained): {chained:.1f} s", flush=True)
        if os.environ.get("REEMPLOI_BENCH_SKIP_UNICAST"):
            return 0
        unicast = deploy(lab, lab.targets, "unicast")
        print(f"time({PCS} PCs unicast): {unicast:.1f} s", flush=True)
    ratio = chained / one
    verdict = "goal met" if ratio <= GOAL else "goal MISSED"
    print(
        f"chained: time({PCS})/time(1) = {ratio:.2f} (goal <= {GOAL}: {verdict}); "
        f"unicast: time({PCS})/time(1) = {unicast / one:.2f}; "
        f"chained is {unicast / chained:.1f} x faster than unicast for {PCS} PCs"
    )
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
