"""Label generation benchmark: 500 labels on A4 sheets against an empty weasyprint document.

Run as `.venv/bin/python bench/labels_bench.py`. Both are measured in this process, after one
warm-up render, so the ratio holds whatever the machine. Exits 1 above the 5 s target.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import weasyprint

from inventory.tags import format_tag
from labels.layout import LabelConfig, LabelItem
from labels.sheets import labels_pdf
from labels.stocks import STOCKS

COUNT = 500
TARGET_SECONDS = 5.0
RUNS = 3


def items() -> list[LabelItem]:
    config = LabelConfig(
        org_name="Atelier Réemploi Nord", phone="03 20 00 00 00", base_url="http://127.0.0.1:8000"
    )
    return [
        LabelItem(
            tag=format_tag("RE", 1000 + n),
            brand="Lenovo",
            model="ThinkPad T480",
            cpu="Intel Core i5-8250U",
            ram_mb=8192,
            storage="SSD 256 Go",
            config=config,
        )
        for n in range(COUNT)
    ]


def timed(action: Callable[[], bytes], runs: int = RUNS) -> tuple[float, float, int]:
    """Median and best wall time of a few runs, and the output size."""
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(action())
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), size


def main() -> int:
    batch = items()
    weasyprint.HTML(string="<p>échauffement</p>").write_pdf()  # fonts and caches, once
    baseline, _, _ = timed(
        lambda: weasyprint.HTML(string="<html><body></body></html>").write_pdf(), runs=20
    )
    print(f"document weasyprint vide (médiane de 20) : {baseline * 1000:.1f} ms")
    worst = 0.0
    for key in ("l7651", "l7160"):
        stock = STOCKS[key]
        seconds, best, size = timed(lambda stock=stock: labels_pdf(batch, stock))
        pages = -(-COUNT // stock.per_page)
        worst = max(worst, seconds)
        print(
            f"{COUNT} étiquettes {key} ({pages} planches, {size // 1024} Kio), médiane de {RUNS} : "
            f"{seconds:.2f} s (meilleur {best:.2f} s), {seconds / baseline:.0f} × le document "
            f"vide, {1000 * seconds / COUNT:.1f} ms/étiquette"
        )
    verdict = "OK" if worst < TARGET_SECONDS else "TROP LENT"
    print(f"objectif < {TARGET_SECONDS:g} s : {verdict}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
