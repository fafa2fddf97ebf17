"""Clear write and read-back against dd O_DIRECT and nwipe, on the same loop device, same run.

Run as root: `.venv/bin/python bench/wipe_bench.py [--size-gib 1] [--rounds 5] [--nwipe-rounds 1]`.
The device is a loop device over a file under /var/tmp, attached with direct I/O to its backing
file so that the host's page cache does not decide the result. Each round runs, in a rotating
order, `dd bs=4M oflag=direct` then `dd bs=4M iflag=direct`, the engine as it runs by default
(it measures whether reading back while writing slows the writer, and chooses), the engine
reading back after writing, and the engine with the read-back forced to overlap; medians are
compared. Then nwipe (zeros, verify last pass, no blanking) and the engine's default Clear take
turns on the device. Targets: write and read-back each >= 0.9 x dd (the definitions are
printed); a missed target is printed as missed.
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
    load_before = os.getloadavg()[0]
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
    modes: dict[str, list[str]] = {}

    def note(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    def engine(overlap: bool | None, prefix: str) -> None:
        result = wipe.clear(device, verify="full", overlap=overlap)
        assert result.verify_passed and result.bytes_written == result.verified_bytes == size
        note(f"{prefix} write", result.write_seconds)
        note(f"{prefix} read", result.verify_seconds)
        note(f"{prefix} span", float(result.details["verify_span_seconds"]))  # type: ignore[arg-type]
        note(f"{prefix} total", result.total_seconds)
        modes.setdefault(prefix, []).append(str(result.details["read_back"]))

    def dd_pair() -> None:
        write = ["dd", "if=/dev/zero", f"of={device}", "bs=4M", f"count={blocks}", "oflag=direct"]
        note("dd write", timed(write))
        note("dd read", timed(["dd", f"if={device}", "of=/dev/null", "bs=4M", "iflag=direct"]))

    steps = {
        "dd": dd_pair,
        "auto": lambda: engine(None, "auto"),
        "after": lambda: engine(False, "after"),
        "overlap": lambda: engine(True, "overlap"),
    }
    nwipe = shutil.which("nwipe")
    try:
        # A fresh file's first write allocates its extents: done once, outside the measures.
        timed(["dd", "if=/dev/zero", f"of={device}", "bs=4M", f"count={blocks}", "oflag=direct"])
        order = list(steps)
        for round_ in range(args.rounds):
            turn = round_ % len(order)
            for name in order[turn:] + order[:turn]:
                steps[name]()
        for round_ in range(args.nwipe_rounds if nwipe else 0):
            if round_ % 2 == 0:
                note("nwipe", run_nwipe(device, folder / f"nwipe-{round_}.log"))
                engine(None, "beside nwipe")
            else:
                engine(None, "beside nwipe")
                note("nwipe", run_nwipe(device, folder / f"nwipe-{round_}.log"))
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()

    def median(name: str) -> float:
        return statistics.median(times[name])

    def rate(name: str) -> str:
        return f"{median(name):6.2f} s {size / median(name) / 1e6:7.0f} Mo/s"

    def each(name: str) -> str:
        return " ".join(f"{t:.2f}" for t in times[name])

    dd_write, dd_read = median("dd write"), median("dd read")
    print(f"Périphérique : {device} (loop, direct-io), {size / GiB:.2f} Gio ; médianes de "
          f"{args.rounds} tours dans un ordre tournant ; charge au départ {load_before:.1f}, "
          f"à la fin {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("Définitions : écriture = temps mural du premier write au retour du fdatasync qui suit")
    print("  le dernier ; relecture = temps pendant lequel des lectures de vérification étaient en")
    print("  vol (attentes d'un flush exclues) ; étendue = de la première lecture à la dernière")
    print("  comparaison, attentes comprises ; total = écriture + relecture de bout en bout,")
    print(
        "  comparé à dd écriture + dd lecture. Ratio = temps dd / temps Clear (>= 1 : plus vite)."
    )
    print(f"dd écriture bs=4M oflag=direct : {rate('dd write')}   [{each('dd write')}]")
    print(f"dd lecture  bs=4M iflag=direct : {rate('dd read')}   [{each('dd read')}]")
    missed = False
    for prefix, label in (
        ("auto", "Clear par défaut (le moteur mesure et choisit)"),
        ("after", "Clear relecture après écriture (disques durs)"),
        ("overlap", "Clear relecture superposée imposée"),
    ):
        chosen = ", ".join(sorted(set(modes[prefix])))
        print(f"{label} — relecture choisie : {chosen}")
        w, r, span, total = (median(f"{prefix} {k}") for k in ("write", "read", "span", "total"))
        print(f"  écriture   : {rate(prefix + ' write')}  ratio {dd_write / w:5.2f}"
              f"  [{each(prefix + ' write')}]")  # fmt: skip
        print(f"  relecture  : {rate(prefix + ' read')}  ratio {dd_read / r:5.2f}"
              f"  [{each(prefix + ' read')}]")  # fmt: skip
        print(f"  étendue    : {span:6.2f} s  ratio {dd_read / span:5.2f}")
        print(f"  total      : {total:6.2f} s  ratio (dd écriture + dd lecture) / total "
              f"{(dd_write + dd_read) / total:5.2f}  [{each(prefix + ' total')}]")  # fmt: skip
    print(f"Cibles (mode par défaut, chaque phase >= {TARGET} x dd O_DIRECT, même exécution) :")
    for label, ours, theirs in (
        ("écriture  Clear / dd oflag=direct", "auto write", "dd write"),
        ("relecture Clear / dd iflag=direct", "auto read", "dd read"),
        ("total     Clear / dd écriture + dd lecture", "auto total", None),
    ):
        reference = dd_write + dd_read if theirs is None else median(theirs)
        ratio = reference / median(ours)
        missed |= ratio < TARGET
        print(f"  {label} : {ratio:5.2f}  {verdict(ratio)}")
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
