"""Deployment benchmark: `reemploi image deploy` against OpenSSH streaming the raw image.

Run as root: `.venv/bin/python bench/deploy_bench.py`. In one run it builds a 2 GiB disk image
whose ext4 root holds files of this machine's installed system (/usr/share and /usr/bin, about
half the disk), then, to one real sshd in a network namespace with a loop device as its disk:

1. over a veth shaped to 1 Gbit/s with `tc tbf` (a workshop switch), then unshaped:
   our deployment (every step: inventory, ranges, verification, GPT, personalisation)
   against `ssh target 'dd of=DISK bs=4M' < raw image`;
2. unshaped: 1 GiB through our paramiko exec channel into `cat > /dev/null`, against OpenSSH's
   client with its default cipher doing the same.

Targets (issue 5): deploy <= 0.4 of OpenSSH's time shaped, <= 0.8 unshaped; channel >= 0.7.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="reemploi-bench-", dir="/var/tmp"))
os.environ["REEMPLOI_DATA_DIR"] = str(WORK / "data")
os.environ["PICCOLO_CONF"] = "web.piccolo_conf"
os.environ["REEMPLOI_DB_POOL"] = "0"
os.environ.pop("REEMPLOI_DATABASE_URL", None)

GIB = 2**30
IMAGE_BYTES = 2 * GIB
CHANNEL_BYTES = GIB


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


def build_image(path: Path) -> None:
    """GPT: a 256 MiB ESP-like partition, then ext4 with /usr/share and /usr/bin of this host."""
    staging = WORK / "root"
    (staging / "usr").mkdir(parents=True)
    for part in ("share", "bin"):
        linked = subprocess.run(["cp", "-al", f"/usr/{part}", str(staging / "usr")])
        if linked.returncode != 0:
            sh("cp", "-a", f"/usr/{part}", str(staging / "usr"))
    (staging / "etc/ssh").mkdir(parents=True)
    (staging / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (staging / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (staging / "etc/group").write_text("root:x:0:\nsudo:x:27:\n")
    (staging / "etc/hostname").write_text("gabarit\n")
    with open(path, "wb") as f:
        f.truncate(IMAGE_BYTES)
    sh("sgdisk", "-n", "1:2048:+256M", "-t", "1:EF00", "-n", "2:0:0", "-t", "2:8304", str(path))
    from provisioning.imaging.target_agent import gpt_partitions

    root = next(p for p in gpt_partitions(str(path)) if p["number"] == 2)
    size_k = (root["last"] - root["first"] + 1) // 2
    fs = WORK / "root.ext4"
    sh("mkfs.ext4", "-q", "-F", "-d", str(staging), str(fs), f"{size_k}k")
    sh("dd", f"if={fs}", f"of={path}", "bs=4M", f"seek={root['first'] * 512}",
       "oflag=seek_bytes", "conv=notrunc,sparse", "status=none")  # fmt: skip
    fs.unlink()
    shutil.rmtree(staging)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def openssh(lab, target, remote: str, source: Path) -> float:
    def go() -> None:
        with open(source, "rb") as stdin:
            subprocess.run(lab.ssh_command(target, remote), stdin=stdin, check=True)

    return timed(go)


async def wiped_device() -> str:
    from inventory import devices
    from tests.support import new_donation

    (tag,) = await new_donation(1)
    device = await devices.get_device(tag)
    disk = await devices.add_disk(device["id"], model="bench", serial=f"B-{tag}", size_bytes=1)
    await devices.apply_transition(tag, "triage", "bench")
    await devices.record_disk_sanitized(disk, True, "bench", {"method": "clear"})
    await devices.apply_transition(tag, "wipe_passed", "bench")
    return tag


def our_deploy(lab, target) -> float:
    from provisioning.imaging.deploy import Options, Target, deploy

    tag = asyncio.run(wiped_device())
    options = Options(pkey=lab.client_key, actor="bench", open_socket=lab.open_socket)
    jobs: list = []

    def go() -> None:
        jobs.extend(
            asyncio.run(
                deploy("bench", "famille", [Target(target.host, tag, disk=target.disk)], options)
            )
        )

    seconds = timed(go)
    if jobs[0]["status"] != "passed":
        raise SystemExit(f"deployment failed: {jobs[0]['reason']}")
    steps = jobs[0]["steps"]
    marks = [datetime.fromisoformat(s["at"]) for s in steps]
    print(
        "  steps: "
        + ", ".join(
            f"{s['phase']} {(b - a).total_seconds():.1f} s"
            for s, a, b in zip(steps, marks, marks[1:], strict=False)
        )
    )
    return seconds


def paramiko_channel(lab, target, source: Path) -> float:
    from provisioning.imaging.hostkeys import PinnedKeyPolicy, load_pins
    from provisioning.imaging.transport import Endpoint, connect, run

    policy = PinnedKeyPolicy(asyncio.run(load_pins()))
    transport = connect(Endpoint(target.host), lab.client_key, policy, open_socket=lab.open_socket)
    try:

        def chunks():
            with open(source, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    yield chunk

        return timed(lambda: run(transport, "cat > /dev/null", chunks()))
    finally:
        transport.close()


def main() -> int:
    if os.geteuid() != 0:
        print("needs root (network namespaces, loop devices)")
        return 2
    from tests.sshtargets import Lab
    from web.database import migrate

    asyncio.run(migrate())
    from provisioning.imaging import hostkeys, images

    raw = WORK / "bench.img"
    if os.environ.get("REEMPLOI_BENCH_RAW"):  # reuse an image built by an earlier run
        raw = Path(os.environ["REEMPLOI_BENCH_RAW"])
        build_time = 0.0
    else:
        print("building the 2 GiB image from /usr/share and /usr/bin …", flush=True)
        build_time = timed(lambda: build_image(raw))
    image = asyncio.run(images.add_image("bench", raw, version="1", actor="bench"))
    print(
        f"image: {image['size_bytes'] / GIB:.2f} GiB, mapped {image['mapped_bytes'] / GIB:.2f} GiB "
        f"({100 * image['mapped_bytes'] / image['size_bytes']:.0f} %), zstd "
        f"{image['compressed_bytes'] / 2**20:.0f} MiB (built in {build_time:.0f} s)"
    )
    zeros = WORK / "channel.bin"
    with open(zeros, "wb") as f:
        for _ in range(CHANNEL_BYTES // (16 * 2**20)):
            f.write(os.urandom(16 * 2**20))
    results = []
    with Lab(1, disk_bytes=IMAGE_BYTES + 64 * 2**20, shape="1gbit") as lab:
        target = lab.targets[0]
        asyncio.run(
            hostkeys.enrol(target.host, hostkeys.parse_public_key(target.public_key_line()))
        )
        for label in ("1 Gbit/s (tc tbf)", "unshaped veth"):
            dd = openssh(lab, target, f"dd of={target.disk} bs=4M status=none", raw)
            ours = our_deploy(lab, target)
            results.append((label, ours, dd))
            print(f"{label}: reemploi {ours:.1f} s, ssh … dd {dd:.1f} s, ratio {ours / dd:.2f}")
            if label.startswith("1 Gbit"):
                sh("ip", "netns", "exec", lab.controller, "tc", "qdisc", "del", "dev", "c0", "root")
        ssh_cat = openssh(lab, target, "cat > /dev/null", zeros)
        ours_cat = paramiko_channel(lab, target, zeros)
        mib = CHANNEL_BYTES / 2**20
        print(
            f"channel: paramiko {mib / ours_cat:.0f} MiB/s, OpenSSH {mib / ssh_cat:.0f} MiB/s, "
            f"ratio {ssh_cat / ours_cat:.2f}"
        )
    (shaped, s_ours, s_dd), (_, u_ours, u_dd) = results
    ok = s_ours / s_dd <= 0.4 and u_ours / u_dd <= 0.8 and ssh_cat / ours_cat >= 0.7
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
