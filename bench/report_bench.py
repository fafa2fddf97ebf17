"""Funder report benchmark: a year's report over 100 000 devices, 60 000 loans, 150 000 sessions.

Run as `.venv/bin/python bench/report_bench.py`. For each engine (a temporary SQLite file, then a
throwaway PostgreSQL cluster started like the tests do), a child process migrates an empty
database, fills it with bulk inserts (executemany on SQLite, COPY on PostgreSQL), then times the
yearly funder report (all programmes, and one programme) against `SELECT count(*) FROM event` in
the same process. Prints seconds and ratios; exits 1 when a report takes 2 s or more.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICES = 100_000
LOANS = 60_000
SESSIONS = 150_000
HOUSEHOLDS = 35_000
TARGET_SECONDS = 2.0
RUNS = 5
YEAR = 2025
THEMES = ["email", "bureautique", "navigation_sur_internet", "sante", "parentalite", "sante"]


def _at(rng: random.Random) -> datetime:
    """An instant between 2024-01-01 and 2026-06-30."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(0, 912 * 86400))


def generate() -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table's columns and rows, with Python values (datetime, date, bool, JSON text)."""
    rng = random.Random(8)
    now = datetime(2026, 7, 1, tzinfo=UTC)
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    tables["site"] = (["id", "name", "address", "phone"], [(1, "Atelier", "", "")])
    kinds = ["company", "public_body", "school", "association", "individual"]
    tables["donor"] = (
        ["id", "name", "kind", "contact_email", "created_at"],
        [(i, f"Donateur {i}", kinds[i % 5], "", now) for i in range(1, 501)],
    )
    donations = []
    for i in range(1, 5001):
        donations.append((i, 1 + i % 500, 1, _at(rng).date(), "", "", now))
    tables["donation"] = (
        ["id", "donor", "site", "received_on", "notes", "weee_reference", "created_at"],
        donations,
    )
    device_rows, disks, records, events = [], [], [], []
    for i in range(1, DEVICES + 1):
        donation = 1 + i % 5000
        received = datetime.combine(donations[donation - 1][3], datetime.min.time(), tzinfo=UTC)
        kind = "laptop" if i % 10 < 7 else ("desktop" if i % 10 < 9 else "screen")
        device_rows.append(
            (i, f"RE-{i:06d}", kind, "Lenovo", "T480", f"SN{i}", "loaned", donation, 1, "{}", 1)
        )
        disks.append((i, i, "SSD", f"D{i}", 256 * 10**9, "sata", False))
        wiped = received + timedelta(days=3)
        method = "purge" if i % 4 == 0 else "clear"
        records.append((i, i, i, "passed", method, wiped, wiped, wiped, f"C{i:08d}"))
        for step, (kind_e, days) in enumerate(
            [
                ("registered", 0),
                ("triage", 1),
                ("disk_sanitized", 3),
                ("wipe_passed", 3),
                ("image_verified", 4),
                ("qualify", 5),
            ]
        ):
            at = received + timedelta(days=days, seconds=step)
            events.append((i, None, "tech", at, kind_e, None, None, "{}"))
    tables["device"] = (
        [
            "id",
            "asset_tag",
            "kind",
            "brand",
            "model",
            "serial",
            "state",
            "donation",
            "site",
            "facts",
            "version",
        ],
        device_rows,
    )
    tables["disk"] = (
        ["id", "device", "model", "serial", "size_bytes", "transport", "rotational"],
        disks,
    )
    tables["sanitization_record"] = (
        [
            "id",
            "disk",
            "device",
            "status",
            "method_type",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "certificate_id",
        ],
        records,
    )
    tables["programme"] = (
        ["id", "name", "funder", "followups", "deposit_cents"],
        [(p, f"Programme {p}", f"Financeur {p}", "[]", 0) for p in range(1, 6)],
    )
    tables["charter"] = (
        ["id", "version", "title", "text", "in_force_from", "created_at", "created_by"],
        [(1, 1, "Charte", "Texte", date(2023, 1, 1), now, "bench")],
    )
    tables["organisation"] = (
        ["id", "name", "kind", "commune", "insee_code", "qpv", "created_at"],
        [(o, f"École {o}", "school", "Lyon", "69123", False, now) for o in range(1, 201)],
    )
    communes = [f"69{n:03d}" for n in range(1, 300)]
    tables["borrower"] = (
        [
            "id",
            "code",
            "kind",
            "commune",
            "insee_code",
            "qpv_resident",
            "children_count",
            "school",
            "is_minor",
            "created_at",
        ],
        [
            (
                b,
                f"B-{b:07d}",
                "household",
                "Commune",
                rng.choice(communes),
                b % 3 == 0,
                b % 4,
                1 + b % 200 if b % 2 else None,
                False,
                now,
            )
            for b in range(1, HOUSEHOLDS + 1)
        ],
    )
    loans, links, returns, tickets = [], [], [], []
    for n in range(1, LOANS + 1):
        device = n  # each of the first 60 000 devices lent once
        opened = _at(rng)
        closed = opened + timedelta(days=rng.randrange(30, 400)) if n % 3 else None
        if closed and closed > now:
            closed = None
        loans.append(
            (
                n,
                1 + n % HOUSEHOLDS,
                1 + n % 5,
                1,
                1,
                "Texte",
                "[]",
                "",
                0,
                "closed" if closed else "open",
                opened,
                closed,
                "0" * 64,
                "bench",
            )
        )
        reason = "end" if n % 50 else ("lost" if n % 100 else "stolen")
        links.append((n, n, device, opened, closed, reason if closed else ""))
        events.append((device, n, "med", opened, "checkout", "ready", "loaned", "{}"))
        events.append((None, n, "med", opened, "loan_opened", None, None, "{}"))
        if closed:
            returns.append((n, n, device, reason, False, False, False, "", "", closed, "med"))
            events.append((device, n, "med", closed, f"return_{reason}", "loaned", "to_wipe", "{}"))
        if n % 12 == 0:
            tickets.append((len(tickets) + 1, device, n, "panne", "repaired", opened, opened, "t"))
    tables["loan"] = (
        [
            "id",
            "borrower",
            "programme",
            "charter",
            "charter_version",
            "charter_text",
            "accessories",
            "condition_out",
            "deposit_cents",
            "status",
            "opened_at",
            "closed_at",
            "document_sha256",
            "created_by",
        ],
        loans,
    )
    tables["loan_device"] = (["id", "loan", "device", "out_at", "returned_at", "outcome"], links)
    tables["device_return"] = (
        [
            "id",
            "loan",
            "device",
            "reason",
            "charger",
            "bag",
            "damage",
            "damage_notes",
            "police_report",
            "at",
            "actor",
        ],
        returns,
    )
    tables["repair_ticket"] = (
        ["id", "device", "loan", "fault", "outcome", "opened_at", "closed_at", "actor"],
        tickets,
    )
    sessions = []
    statuses = ["done", "done", "done", "missed", "planned", "cancelled"]
    autonomy = ["entierement_accompagne", "partiellement_autonome", "autonome"]
    for s in range(1, SESSIONS + 1):
        loan = loans[s % LOANS]
        planned = loan[10].date() + timedelta(days=7 if s % 2 else 30)
        status = statuses[s % 6]
        held = planned if status == "done" else None
        themes = json.dumps(rng.sample(THEMES[:5], 1 + s % 3)) if held else "[]"
        sessions.append(
            (
                s,
                loan[0],
                loan[1],
                loan[2],
                "suivi",
                planned,
                status,
                held,
                "med",
                "lieu_activite" if held else "",
                60 if held else 0,
                themes,
                autonomy[s % 3] if held else "",
                "",
                False,
            )
        )
    tables["mediation_session"] = (
        [
            "id",
            "loan",
            "borrower",
            "programme",
            "label",
            "planned_on",
            "status",
            "held_on",
            "mediator",
            "place_type",
            "duration_minutes",
            "themes",
            "autonomy",
            "notes",
            "collective",
        ],
        sessions,
    )
    tables["event"] = (
        ["device", "loan_id", "actor", "at", "kind", "from_state", "to_state", "payload"],
        events,
    )
    return tables


ORDER = [
    "site",
    "donor",
    "donation",
    "device",
    "disk",
    "sanitization_record",
    "programme",
    "charter",
    "organisation",
    "borrower",
    "loan",
    "loan_device",
    "device_return",
    "repair_ticket",
    "mediation_session",
    "event",
]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return str(value.astimezone(UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def fill_sqlite(path: str, tables: dict) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    for name in ORDER:
        columns, rows = tables[name]
        marks = ", ".join("?" * len(columns))
        db.executemany(
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
            ([_sqlite_value(v) for v in row] for row in rows),
        )
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def fill_postgres(dsn: str, tables: dict) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for name in ORDER:
            columns, rows = tables[name]
            await connection.copy_records_to_table(name, records=rows, columns=columns)
            if "id" in columns:
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT MAX(id) FROM {name}))"
                )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _timed(action: Any) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure() -> dict[str, float]:
    from inventory.tables import Event
    from loans.reports import funder

    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)

    async def baseline() -> None:
        await Event.raw("SELECT count(*) AS n FROM event")

    async def report_all() -> None:
        await funder.funder_report(None, start, end)

    async def report_one() -> None:
        await funder.funder_report(2, start, end)

    await report_all()  # warm-up: caches, query plans
    result = {
        "count_events": await _timed(baseline),
        "report_all": await _timed(report_all),
        "report_programme": await _timed(report_one),
    }
    report = await funder.funder_report(None, start, end)
    result["loans_new"] = float(report.value("loans_new"))
    result["events"] = float((await Event.raw("SELECT count(*) AS n FROM event"))[0]["n"])
    return result


def child(engine: str) -> None:
    """Runs in a process whose environment names the database."""
    from web.database import migrate

    asyncio.run(migrate())
    tables = generate()
    started = time.perf_counter()
    if engine == "sqlite":
        from inventory import config

        fill_sqlite(str(config.sqlite_path()), tables)
    else:
        asyncio.run(fill_postgres(os.environ["REEMPLOI_DATABASE_URL"], tables))
    fill = time.perf_counter() - started
    result = asyncio.run(measure())
    result["fill"] = fill
    print(json.dumps(result))


def run_engine(engine: str) -> dict[str, float]:
    env = {**os.environ, "PICCOLO_CONF": "web.piccolo_conf", "REEMPLOI_DB_POOL": "0"}
    env["REEMPLOI_DATA_DIR"] = tempfile.mkdtemp(prefix="reemploi-bench-")
    env.pop("REEMPLOI_DATABASE_URL", None)
    cluster = None
    if engine == "postgres":
        from tests.pgcluster import Cluster

        cluster = Cluster()
        env["REEMPLOI_DATABASE_URL"] = cluster.start()
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--child", engine],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        if cluster is not None:
            cluster.stop()
    if output.returncode != 0:
        raise RuntimeError(f"{engine}: {output.stderr[-2000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    print(
        f"Rapport financeur annuel ({YEAR}) : {DEVICES} appareils, {LOANS} prêts, "
        f"{SESSIONS} séances ; médiane de {RUNS} exécutions."
    )
    failed = False
    for engine in ("sqlite", "postgres"):
        r = run_engine(engine)
        ratio_all = r["report_all"] / r["count_events"]
        ratio_one = r["report_programme"] / r["count_events"]
        print(
            f"{engine:9s} remplissage {r['fill']:.1f} s ({int(r['events'])} événements) | "
            f"count(*) event {r['count_events'] * 1000:.1f} ms | "
            f"rapport tous programmes {r['report_all']:.3f} s (x{ratio_all:.1f}) | "
            f"rapport un programme {r['report_programme']:.3f} s (x{ratio_one:.1f}) | "
            f"nouveaux prêts {int(r['loans_new'])}"
        )
        failed |= max(r["report_all"], r["report_programme"]) >= TARGET_SECONDS
    print(f"Objectif : moins de {TARGET_SECONDS:.0f} s par moteur : {'NON' if failed else 'oui'}.")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        sys.exit(main())
