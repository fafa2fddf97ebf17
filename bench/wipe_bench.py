"""Wipe and verify throughput of the Clear engine against dd, on the same loop device, same run.

Run as root: `.venv/bin/python bench/wipe_bench.py [--size-gib 1] [--rounds 5]`. The device is
a loop device over a file under /var/tmp, attached with direct I/O to its backing file so that
the host's page cache and dirty-page throttling do not decide the result. Each round runs
`dd bs=4M oflag=direct`, `dd bs=4M iflag=direct` and the engine (write pass, then full
read-back), alternating which goes first; medians are compared. Target: both ratios >= 0.9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioning import wipe  # after the path set-up, to run from a checkout

GiB = 1 << 30


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", default="/var/tmp")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Ce banc d'essai a besoin de root (losetup).", file=sys.stderr)
        return 2
    size = int(args.size_gib * GiB) // (4 << 20) * (4 << 20)
    folder = Path(tempfile.mkdtemp(prefix="reemploi-bench-", dir=args.folder))
    image = folder / "disk.img"
    subprocess.run(["fallocate", "-l", str(size), str(image)], check=True)
    device = subprocess.run(
        ["losetup", "--direct-io=on", "--find", "--show", str(image)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dd_write, dd_read, our_write, our_read = [], [], [], []
    blocks = size // (4 << 20)
    try:
        for round_ in range(args.rounds):
            steps = ["dd", "engine"] if round_ % 2 == 0 else ["engine", "dd"]
            for step in steps:
                if step == "dd":
                    dd_write.append(
                        timed(
                            [
                                "dd",
                                "if=/dev/zero",
                                f"of={device}",
                                "bs=4M",
                                f"count={blocks}",
                                "oflag=direct",
                            ]
                        )  # fmt: skip
                    )
                    dd_read.append(
                        timed(["dd", f"if={device}", "of=/dev/null", "bs=4M", "iflag=direct"])
                    )
                else:
                    result = wipe.clear(device, verify="full")
                    assert result.verify_passed and result.bytes_written == size
                    our_write.append(result.write_seconds)
                    our_read.append(result.verify_seconds)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        image.unlink(missing_ok=True)
        folder.rmdir()

    def rate(seconds: list[float]) -> float:
        return size / statistics.median(seconds) / 1e6

    print(f"Périphérique : {device}, {size / GiB:.2f} Gio, {args.rounds} tours (médianes)")
    print(f"dd écriture  bs=4M oflag=direct : {rate(dd_write):8.1f} Mo/s")
    print(f"moteur écriture (Clear, zéros)  : {rate(our_write):8.1f} Mo/s")
    print(f"dd lecture   bs=4M iflag=direct : {rate(dd_read):8.1f} Mo/s")
    print(f"moteur relecture complète       : {rate(our_read):8.1f} Mo/s")
    write_ratio = rate(our_write) / rate(dd_write)
    read_ratio = rate(our_read) / rate(dd_read)
    print(f"ratio écriture moteur/dd : {write_ratio:.2f} (cible >= 0.9)")
    print(f"ratio relecture moteur/dd : {read_ratio:.2f} (cible >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
