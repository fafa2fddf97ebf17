"""Clear write and read-back against dd O_DIRECT and nwipe, on the same loop device, same run.

Run as root: `.venv/bin/python bench/wipe_bench.py [--size-gib 1] [--rounds 5] [--nwipe-rounds 1]`.
The device is a loop device over a file under /var/tmp, attached with direct I/O to its backing
file so that the host's page cache does not decide the result. Each round runs, in a rotating
order, `dd bs=4M oflag=direct` then `dd bs=4M iflag=direct`, the engine as it runs on such a
device (writing and read-back overlapped) and the engine reading back after writing; medians
are compared. Then nwipe (zeros, verify last pass, no blanking) and the engine's Clear with full
read-back take turns on the device. Targets: write and read-back each >= 0.9 x dd; a missed
target is printed as missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioning import wipe  # after the path set-up, to run from a checkout

GiB = 1 << 30
TARGET = 0.9


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def verdict(ratio: float) -> str:
    return "atteinte" if ratio >= TARGET else "MANQUÉE"


def nwipe_version() -> str:
    out = subprocess.run(["nwipe", "--version"], capture_output=True, text=True)
    lines = str(out.stdout or out.stderr or "").strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else "nwipe"


def run_nwipe(device: str, log: Path) -> float:
    """nwipe's own Clear: one pass of zeros, the last pass read back, no final blanking."""
    argv = ["nwipe", "--autonuke", "--nogui", "--nowait", "--method=zero", "--verify=last"]
    argv += ["--noblank", f"--logfile={log}", device]
    seconds = timed(argv)
    if "Verifications Errors" not in log.read_text(errors="replace"):
        raise RuntimeError(f"nwipe n'a pas rendu son résumé (voir {log})")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Clear (écriture, relecture) contre dd O_DIRECT et nwipe, même exécution."
    )
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nwipe-rounds", type=int, default=1)
    parser.add_argument("--folder", default="/var/tmp")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Ce banc d'essai a besoin de root (losetup).", file=sys.stderr)
        return 2
    size = int(args.size_gib * GiB) // (4 << 20) * (4 << 20)
    blocks = size // (4 << 20)
    folder = Path(tempfile.mkdtemp(prefix="reemploi-bench-", dir=args.folder))
    image = folder / "disk.img"
    subprocess.run(["fallocate", "-l", str(size), str(image)], check=True)
    device = subprocess.run(
        ["losetup", "--direct-io=on", "--find", "--show", str(image)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    times: dict[str, list[float]] = {}

    def note(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    def engine(overlap: bool, prefix: str) -> None:
        result = wipe.clear(device, verify="full", overlap=overlap)
        assert result.verify_passed and result.bytes_written == result.verified_bytes == size
        assert result.overlapped == overlap
        note(f"{prefix} write", result.write_seconds)
        note(f"{prefix} read", result.verify_seconds)
        note(f"{prefix} total", result.total_seconds)

    steps = {
        "dd": lambda: (
            note(
                "dd write",
                timed(
                    [
                        "dd",
                        "if=/dev/zero",
                        f"of={device}",
                        "bs=4M",
                        f"count={blocks}",
                        "oflag=direct",
                    ]
                ),
            ),
            note("dd read", timed(["dd", f"if={device}", "of=/dev/null", "bs=4M", "iflag=direct"])),
        ),  # fmt: skip
        "overlapped": lambda: engine(True, "overlapped"),
        "sequential": lambda: engine(False, "sequential"),
    }
    nwipe = shutil.which("nwipe")
    try:
        order = list(steps)
        for round_ in range(args.rounds):
            for name in order[round_ % 3 :] + order[: round_ % 3]:
                steps[name]()
        for round_ in range(args.nwipe_rounds if nwipe else 0):
            if round_ % 2 == 0:
                note("nwipe", run_nwipe(device, folder / f"nwipe-{round_}.log"))
                engine(True, "beside nwipe")
            else:
                engine(True, "beside nwipe")
                note("nwipe", run_nwipe(device, folder / f"nwipe-{round_}.log"))
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()

    def median(name: str) -> float:
        return statistics.median(times[name])

    def rate(name: str) -> str:
        return f"{median(name):6.2f} s  {size / median(name) / 1e6:8.1f} Mo/s"

    load = os.getloadavg()[0]
    print(f"Périphérique : {device} (loop, direct-io), {size / GiB:.2f} Gio, médianes de "
          f"{args.rounds} tours, charge de la machine {load:.1f}")  # fmt: skip
    print(f"dd écriture  bs=4M oflag=direct        : {rate('dd write')}")
    print(f"dd lecture   bs=4M iflag=direct        : {rate('dd read')}")
    print(f"Clear écriture (relecture superposée)  : {rate('overlapped write')}")
    print(f"Clear relecture complète (superposée)  : {rate('overlapped read')}")
    print(f"Clear + relecture complète, total      : {median('overlapped total'):6.2f} s")
    print(f"Clear écriture (relecture après)       : {rate('sequential write')}")
    print(f"Clear relecture complète (après)       : {rate('sequential read')}")
    print(f"Clear + relecture complète, total      : {median('sequential total'):6.2f} s")
    missed = False
    print(f"Cibles (>= {TARGET} x dd, mode par défaut sur ce périphérique : superposé) :")
    for label, ours, theirs in (
        ("écriture  Clear / dd oflag=direct", "overlapped write", "dd write"),
        ("relecture Clear / dd iflag=direct", "overlapped read", "dd read"),
    ):
        ratio = median(theirs) / median(ours)
        missed |= ratio < TARGET
        print(f"  {label} : {ratio:5.2f}  {verdict(ratio)}")
    pair = median("dd write") + median("dd read")
    print(f"  total (dd écriture + dd lecture) / (Clear + relecture) : "
          f"{pair / median('overlapped total'):5.2f}")  # fmt: skip
    print("Pour comparaison, relecture après écriture (disques durs) :")
    for label, ours, theirs in (
        ("écriture  Clear / dd oflag=direct", "sequential write", "dd write"),
        ("relecture Clear / dd iflag=direct", "sequential read", "dd read"),
    ):
        print(f"  {label} : {median(theirs) / median(ours):5.2f}")
    if "nwipe" in times:
        ours, theirs = median("beside nwipe total"), median("nwipe")
        print(f"{nwipe_version()} --method=zero --verify=last --noblank : {theirs:6.2f} s ; "
              f"Clear + relecture complète au même tour : {ours:6.2f} s ; "
              f"{theirs / ours:4.1f} x plus rapide que nwipe")  # fmt: skip
    else:
        print("nwipe absent (paquet Debian nwipe) : comparaison non faite.")
        missed = True
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
