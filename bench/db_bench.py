"""Database path benchmark (issue 16): the real server against the raw driver, same statements.

Run: `.venv/bin/python bench/db_bench.py` (`--devices N` for a smaller base, `--engine sqlite`
or `--engine postgres` for one engine). For each engine, in one run:

1. a base of `--devices` devices (100,000 by default) is migrated then filled by bulk insert:
   one site, a thousand donations, devices of every kind with their intake events (about
   three per device), one disk per device with storage, one technician with a session;
2. the real server is started (`reemploi serve` on a free port: one worker on SQLite, two on
   PostgreSQL — a throwaway cluster from tests/pgcluster.py);
3. the floor: `GET /healthz` (no database, no session) per second, one request after the
   other, with the raw client below (and with httpx, for comparison), and that rate as a
   fraction of raw transitions: no transition over HTTP can go past that fraction;
4. one client applies transitions over HTTP (session cookie and Origin, as a browser), one
   after the other; then the raw driver (sqlite3, asyncpg) runs the statements the service
   runs for a transition — read the device, update it with its version, insert the event, in
   one IMMEDIATE transaction — on other devices of the same base, in the same run;
5. eight clients apply transitions at once (each on its own devices, httpx): p50, p99, errors;
6. one client looks up random tags (`GET /api/v1/lookup`, raw client): p50, p99.

The sequential figures (3, 4, 6) go through `RawClient`: a minimal HTTP/1.1 keep-alive client
on one socket, its requests encoded before the clock starts, its responses read by their
Content-Length. httpx spends about a third of a millisecond of client time per request, which
would be most of what is measured; this client spends a few microseconds.

Targets: 1 client >= 0.25 x raw; 8 clients p99 < 100 ms with 0 errors; lookup p99 < 10 ms.
Each line of the table says whether its target is met; a missed target is printed as missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory.tags import format_tag  # noqa: E402
from tests.pgcluster import Cluster  # noqa: E402
from tests.server import free_port, wait_until_healthy  # noqa: E402

REEMPLOI = Path(sys.executable).parent / "reemploi"
PER_DONATION = 100
# Devices cycled by the benchmark: screens (no storage), ready, cycled ready <-> in_repair.
CYCLE = {"ready": ("repair_in_workshop", "in_repair"), "in_repair": ("repaired", "ready")}
KINDS = ["laptop"] * 14 + ["desktop"] * 3 + ["all_in_one", "tablet", "screen", "dock"]
STORAGE_STATES = ["received", "to_wipe", "wiped", "imaged", "ready", "retired"]
# Transitions of each measurement (and how many devices each client cycles through).
ONE_CLIENT = 600
RAW = 2000
EIGHT_CLIENTS = 8
PER_CLIENT = 150
LOOKUPS = 600
ROUNDS = 4
# Raw transitions measured beside the floor: the ratio a request doing nothing would reach.
FLOOR_RAW = 400
TARGET_RATIO = 0.25
TARGET_P99_8 = 0.100
TARGET_LOOKUP_P99 = 0.010


@dataclass
class Base:
    """What the bulk insert made: the tags to cycle and their state, every tag."""

    cycled: list[str]
    tags: list[str]
    state: dict[str, str] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------- rows


def rows(devices: int, cycled: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) of the base, devices first cycled ones; ids are given explicitly."""
    at = now()
    yield "site", (1, "Atelier de banc d'essai", "", "", None)
    yield "donor", (1, "Donateur de banc d'essai", "company", "", at, None)
    for donation in range(1, devices // PER_DONATION + 2):
        yield "donation", (donation, 1, 1, date(2026, 1, 1), "", "", at)
    rng = random.Random(16)
    event_id = 0
    disk_id = 0
    for device in range(1, devices + 1):
        tag = format_tag("RE", device)
        kind = "screen" if device <= cycled else rng.choice(KINDS)
        storage = kind not in ("screen", "dock")
        if device <= cycled:
            state = "ready"
        else:
            state = rng.choice(STORAGE_STATES if storage else ["received", "ready", "retired"])
        donation = (device - 1) // PER_DONATION + 1
        yield (
            "device",
            (
                device,
                tag,
                kind,
                "Lenovo",
                "ThinkPad T470",
                f"SN{device:09d}",
                "",
                8192,
                "",
                "?",
                state,
                donation,
                1,
                "{}",
                3,
                at,
                at,
            ),
        )
        history: list[tuple[str, str | None, str | None]] = [("registered", None, "received")]
        if state != "received":
            history.append(("bench_history", "received", state))
        history.append(("note", None, None))
        for kind_, source, target in history:
            event_id += 1
            payload = json.dumps({"donation_id": donation, "custody_change": True})
            yield "event", (event_id, device, None, "bench", at, kind_, source, target, payload)
        if storage:
            disk_id += 1
            yield (
                "disk",
                (disk_id, device, "SAMSUNG MZ7LN256", f"S{device:010d}", 256 << 30, "sata"),
            )


TABLE_COLUMNS = {
    "site": ("id", "name", "address", "phone", "archived_at"),
    "donor": ("id", "name", "kind", "contact_email", "created_at", "archived_at"),
    "donation": ("id", "donor", "site", "received_on", "notes", "weee_reference", "created_at"),
    "device": (
        "id",
        "asset_tag",
        "kind",
        "brand",
        "model",
        "serial",
        "cpu",
        "ram_mb",
        "storage_summary",
        "grade",
        "state",
        "donation",
        "site",
        "facts",
        "version",
        "created_at",
        "updated_at",
    ),
    "event": (
        "id",
        "device",
        "loan_id",
        "actor",
        "at",
        "kind",
        "from_state",
        "to_state",
        "payload",
    ),
    "disk": ("id", "device", "model", "serial", "size_bytes", "transport"),
}


def grouped(devices: int, cycled: int) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_COLUMNS}
    for table, row in rows(devices, cycled):
        tables[table].append(row)
    return tables


SESSION_TOKEN = secrets.token_urlsafe(32)


def session_rows() -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    """A technician (no usable password: the bench opens its session directly) and a session."""
    local = datetime.now()
    user = (1, "banc", "", "banc@users.reemploi.invalid", True, False, False)
    role = (1, 1, "technician")
    digest = hashlib.sha256(SESSION_TOKEN.encode()).hexdigest()
    session = (1, digest, 1, local + timedelta(hours=12), local + timedelta(days=7))
    return user, role, session


def _sqlite_value(value: Any) -> Any:
    return str(value) if isinstance(value, datetime | date) else value


DISK_INDEX = 'CREATE INDEX IF NOT EXISTS bench_disk_device ON "disk" ("device")'
OPTIONS = {"disk_index": False}


def fill_sqlite(path: Path, devices: int, cycled: int) -> None:
    tables = grouped(devices, cycled)
    db = sqlite3.connect(path)
    with db:
        for table, columns in TABLE_COLUMNS.items():
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            db.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                ([_sqlite_value(v) for v in row] for row in tables[table]),
            )
        user, role, session = session_rows()
        db.execute(
            "INSERT INTO piccolo_user (id, username, password, email, active, admin, superuser) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            user,
        )
        db.execute('INSERT INTO staff_role (id, "user", role) VALUES (?, ?, ?)', role)
        db.execute(
            "INSERT INTO sessions (id, token, user_id, expiry_date, max_expiry_date) "
            "VALUES (?, ?, ?, ?, ?)",
            [_sqlite_value(v) for v in session],
        )
        db.execute("INSERT INTO tag_counter (prefix, last_value) VALUES ('RE', ?)", (devices,))
    if OPTIONS["disk_index"]:
        db.execute(DISK_INDEX)
    db.execute("ANALYZE")
    db.close()


async def fill_postgres(dsn: str, devices: int, cycled: int) -> None:
    import asyncpg  # only for the PostgreSQL half

    tables = grouped(devices, cycled)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            for table, columns in TABLE_COLUMNS.items():
                await connection.copy_records_to_table(
                    table, records=tables[table], columns=list(columns)
                )
            user, role, session = session_rows()
            await connection.execute(
                "INSERT INTO piccolo_user (id, username, password, email, active, admin, "
                "superuser) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                *user,
            )
            await connection.execute(
                'INSERT INTO staff_role (id, "user", role) VALUES ($1, $2, $3)', *role
            )
            await connection.execute(
                "INSERT INTO sessions (id, token, user_id, expiry_date, max_expiry_date) "
                "VALUES ($1, $2, $3, $4, $5)",
                *session,
            )
            await connection.execute(
                "INSERT INTO tag_counter (prefix, last_value) VALUES ('RE', $1)", devices
            )
            for table in ("site", "donor", "donation", "device", "event", "disk", "piccolo_user"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        if OPTIONS["disk_index"]:
            await connection.execute(DISK_INDEX)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# ---------------------------------------------------------------------------- raw drivers

RAW_SELECT = 'SELECT * FROM "device" WHERE "device"."asset_tag" = {} LIMIT 1'
RAW_UPDATE = (
    'UPDATE "device" SET "state" = {}, "version" = "version" + 1, "updated_at" = {} '
    'WHERE "device"."id" = {} AND "device"."version" = {} RETURNING "device"."id"'
)
RAW_INSERT = (
    'INSERT INTO "event" ("device", "loan_id", "actor", "at", "kind", "from_state", '
    '"to_state", "payload") VALUES ({}, {}, {}, {}, {}, {}, {}, {}) RETURNING "event"."id"'
)


def _sql(template: str, postgres: bool) -> str:
    if not postgres:
        return template.replace("{}", "?")
    parts = template.split("{}")
    return "".join(f"{part}${i}" if i < len(parts) else part for i, part in enumerate(parts, 1))


def raw_sqlite(path: Path, base: Base, count: int) -> float:
    """Transitions per second through sqlite3, with the server's connection settings."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA foreign_keys=ON")
    select, update, insert = (_sql(t, False) for t in (RAW_SELECT, RAW_UPDATE, RAW_INSERT))
    tags = cycle_tags(base, count)
    started = time.perf_counter()
    for tag in tags:
        db.execute("BEGIN IMMEDIATE")
        cursor = db.execute(select, (tag,))
        names = [d[0] for d in cursor.description]
        device = dict(zip(names, cursor.fetchone(), strict=True))
        transition, target = CYCLE[device["state"]]
        moment = str(now())
        updated = db.execute(update, (target, moment, device["id"], device["version"])).fetchall()
        assert updated, tag
        payload = json.dumps({"transition": transition})
        db.execute(
            insert,
            (device["id"], None, "banc", moment, transition, device["state"], target, payload),
        ).fetchall()
        db.execute("COMMIT")
        base.state[tag] = target
    elapsed = time.perf_counter() - started
    db.close()
    return count / elapsed


async def raw_postgres(dsn: str, base: Base, count: int) -> float:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    select, update, insert = (_sql(t, True) for t in (RAW_SELECT, RAW_UPDATE, RAW_INSERT))
    tags = cycle_tags(base, count)
    started = time.perf_counter()
    for tag in tags:
        async with connection.transaction():
            device = await connection.fetchrow(select, tag)
            assert device is not None
            transition, target = CYCLE[device["state"]]
            moment = now()
            updated = await connection.fetch(
                update, target, moment, device["id"], device["version"]
            )
            assert updated, tag
            payload = json.dumps({"transition": transition})
            await connection.fetch(
                insert, device["id"], None, "banc", moment, transition, device["state"], target,
                payload,
            )  # fmt: skip
        base.state[tag] = target
    elapsed = time.perf_counter() - started
    await connection.close()
    return count / elapsed


# ------------------------------------------------------------------ the sequential client


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: one socket, requests encoded before the clock
    starts, responses read by their Content-Length. It costs the client a few microseconds a
    request, so what the sequential figures measure is the server (httpx costs ~0.3 ms)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"", origin: bool = False) -> bytes:
        """A request's bytes, with the bench's session cookie (and Origin for a write)."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}",
            f"Cookie: reemploi_session={SESSION_TOKEN}",
        ]
        if origin:
            lines.append(f"Origin: http://{self.host}")
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, read its response: (status, body)."""
        self.sock.sendall(request)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._receive()
        head = buffer[:end].decode("latin-1")
        status = int(head[9:12])
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("chunked responses are not read by this client")
        end += 4
        while len(buffer) < end + length:
            buffer += self._receive()
        self.buffer = buffer[end + length :]
        return status, buffer[end : end + length]

    def _receive(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def raw_client(url: str) -> Iterator[RawClient]:
    client = RawClient(url)
    try:
        yield client
    finally:
        client.close()


# ------------------------------------------------------------------------- over HTTP


def cycle_tags(base: Base, count: int) -> list[str]:
    """`count` transitions' tags, taken from the cycled devices (each used once or twice)."""
    taken = base.cycled[: (count + 1) // 2]
    del base.cycled[: len(taken)]
    if len(taken) * 2 < count:
        raise SystemExit("Not enough cycled devices: raise --devices.")
    return [tag for tag in taken for _ in range(2)][:count]


def headers(url: str) -> dict[str, str]:
    # A browser's API write: session cookie, same origin (web.security), JSON.
    return {"Origin": url, "Cookie": f"reemploi_session={SESSION_TOKEN}"}


def transition_body(base: Base, tag: str) -> dict[str, str]:
    return {"transition": CYCLE[base.state.get(tag, "ready")][0]}


def one_client(url: str, base: Base, count: int) -> tuple[float, list[float], int]:
    """`count` transitions, one after the other, through the raw client (requests encoded
    before the clock starts; the answer checked by its status and the state it names)."""
    tags = cycle_tags(base, count)
    work: list[tuple[str, str, bytes]] = []
    state = dict(base.state)
    latencies: list[float] = []
    errors = 0
    with raw_client(url) as client:
        for tag in tags:
            transition, target = CYCLE[state.get(tag, "ready")]
            state[tag] = target
            body = json.dumps({"transition": transition}).encode()
            path = f"/api/v1/devices/{tag}/transitions"
            work.append((tag, target, client.request("POST", path, body, origin=True)))
        started = time.perf_counter()
        for tag, target, request in work:
            begin = time.perf_counter()
            status, answer = client.send(request)
            latencies.append(time.perf_counter() - begin)
            if status == 200 and f'"state":"{target}"'.encode() in answer:
                base.state[tag] = target
            else:
                errors += 1
        elapsed = time.perf_counter() - started
    return count / elapsed, latencies, errors


async def many_clients(
    url: str, base: Base, clients: int, per_client: int
) -> tuple[float, list[float], int, list[str]]:
    work = [cycle_tags(base, per_client) for _ in range(clients)]
    latencies: list[float] = []
    failures: list[str] = []

    async def client_run(tags: list[str]) -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers(url), timeout=60) as client:
            for tag in tags:
                begin = time.perf_counter()
                try:
                    response = await client.post(
                        f"/api/v1/devices/{tag}/transitions", json=transition_body(base, tag)
                    )
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                latencies.append(time.perf_counter() - begin)
                if response.status_code == 200:
                    base.state[tag] = response.json()["state"]
                else:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(client_run(tags) for tags in work))
    elapsed = time.perf_counter() - started
    return clients * per_client / elapsed, latencies, len(failures), failures[:3]


def lookups(url: str, base: Base, count: int) -> tuple[list[float], int]:
    """Random tags looked up one after the other, through the raw client."""
    rng = random.Random(7)
    latencies: list[float] = []
    errors = 0
    with raw_client(url) as client:
        work = [
            client.request("GET", f"/api/v1/lookup?code={rng.choice(base.tags)}")
            for _ in range(count)
        ]
        for request in work:
            begin = time.perf_counter()
            status, _ = client.send(request)
            latencies.append(time.perf_counter() - begin)
            errors += status != 200
    return latencies, errors


def healthz_rate(url: str, count: int) -> float:
    """What the raw client and the server reach with no work at all: the floor of any request
    (HTTP parsing, routing, middleware, the response), no database, no session."""
    with raw_client(url) as client:
        request = client.request("GET", "/healthz")
        started = time.perf_counter()
        for _ in range(count):
            status, _ = client.send(request)
            assert status == 200, status
        return count / (time.perf_counter() - started)


def httpx_healthz_rate(url: str, count: int) -> float:
    """The same with httpx, for comparison with the 8-client run's client."""
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        for _ in range(count):
            client.get("/healthz")
        return count / (time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its children (uvicorn's workers):
    what a request costs the server, whatever else the machine runs meanwhile."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / clock  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


SERVER_PID: dict[str, int] = {}


@contextlib.contextmanager
def server(env: dict[str, str], workers: int, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(REEMPLOI), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process, seconds=120)
            SERVER_PID[url] = process.pid
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def reemploi(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(REEMPLOI), *args], env=env, check=True, capture_output=True)


# ------------------------------------------------------------------------------ the run


@dataclass
class Line:
    engine: str
    measure: str
    ours: str
    raw: str
    ratio: str
    target: str
    met: bool | None


def measure(engine: str, env: dict[str, str], workers: int, base: Base, raw: Any) -> list[Line]:
    """Every measurement of one engine with its server running; `raw(base, count)` -> rate."""
    lines: list[Line] = []
    work = Path(env["REEMPLOI_DATA_DIR"])
    with server(env, workers, work / f"server-{engine}.log") as url:
        lookups(url, base, 50)  # warm-up: connections, caches, templates
        one_client(url, base, 40)
        healthz_rate(url, 200)
        cpu = server_cpu(SERVER_PID[url])
        floor = healthz_rate(url, 2000)
        floor_cpu = (server_cpu(SERVER_PID[url]) - cpu) / 2000
        lines.append(
            Line(
                engine,
                "floor: GET /healthz/s, raw client (no database, no session), server CPU "
                f"{floor_cpu * 1000:.2f} ms",
                f"{floor:.0f}",
                "",
                f"{floor / raw(base, FLOOR_RAW):.3f}",
                "",
                None,
            )
        )
        lines.append(
            Line(
                engine,
                "  the same with httpx (the 8-client run's client)",
                f"{httpx_healthz_rate(url, 500):.0f}",
                "",
                "",
                "",
                None,
            )
        )
        # Rounds alternate ours and raw, so that a busy spell of the machine weighs on both.
        latencies: list[float] = []
        errors = 0
        ours_time = raw_time = 0.0
        cpu_time = 0.0
        for _ in range(ROUNDS):
            cpu = server_cpu(SERVER_PID[url])
            rate, round_latencies, round_errors = one_client(url, base, ONE_CLIENT // ROUNDS)
            cpu_time += server_cpu(SERVER_PID[url]) - cpu
            ours_time += (ONE_CLIENT // ROUNDS) / rate
            latencies += round_latencies
            errors += round_errors
            raw_time += (RAW // ROUNDS) / raw(base, RAW // ROUNDS)
        rate = ROUNDS * (ONE_CLIENT // ROUNDS) / ours_time
        raw_rate = ROUNDS * (RAW // ROUNDS) / raw_time
        ratio = rate / raw_rate
        lines.append(
            Line(
                engine,
                f"1 client, transitions/s (p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
                f", {errors} errors, server CPU {cpu_time / ONE_CLIENT * 1000:.2f} ms)",
                f"{rate:.0f}",
                f"{raw_rate:.0f}",
                f"{ratio:.3f}",
                f">= {TARGET_RATIO}",
                ratio >= TARGET_RATIO and errors == 0,
            )
        )
        rate8, latencies8, errors8, samples = asyncio.run(
            many_clients(url, base, EIGHT_CLIENTS, PER_CLIENT)
        )
        p99 = percentile(latencies8, 0.99)
        lines.append(
            Line(
                engine,
                f"8 clients: {rate8:.0f} transitions/s, p50 "
                f"{percentile(latencies8, 0.5) * 1000:.1f} ms, max {max(latencies8) * 1000:.0f} ms,"
                f" {errors8} errors",
                f"p99 {p99 * 1000:.1f} ms",
                "",
                "",
                "p99 < 100 ms, 0 errors",
                p99 < TARGET_P99_8 and errors8 == 0,
            )
        )
        for sample in samples:
            print(f"  {engine} error: {sample}")
        found, lookup_errors = lookups(url, base, LOOKUPS)
        p99_lookup = percentile(found, 0.99)
        lines.append(
            Line(
                engine,
                f"scan lookup, p50 {percentile(found, 0.5) * 1000:.1f} ms ({lookup_errors} errors)",
                f"p99 {p99_lookup * 1000:.1f} ms",
                "",
                "",
                "p99 < 10 ms",
                p99_lookup < TARGET_LOOKUP_P99 and lookup_errors == 0,
            )
        )
    return lines


def new_base(devices: int, cycled: int) -> Base:
    tags = [format_tag("RE", n) for n in range(1, devices + 1)]
    return Base(cycled=tags[:cycled], tags=tags)


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEMPLOI_")}
    env.update(
        {
            "REEMPLOI_DATA_DIR": str(data_dir),
            "REEMPLOI_DB_POOL": "1",
            "REEMPLOI_SECRET_KEY": "bench-secret-key-not-for-production",
            "PICCOLO_CONF": "web.piccolo_conf",
        }
    )
    if database_url:
        env["REEMPLOI_DATABASE_URL"] = database_url
    return env


def run_sqlite(work: Path, devices: int, cycled: int) -> list[Line]:
    env = environment(work / "sqlite", None)
    reemploi(env, "migrate")
    path = work / "sqlite" / "reemploi.sqlite"
    started = time.perf_counter()
    fill_sqlite(path, devices, cycled)
    print(f"sqlite: {devices} devices inserted in {time.perf_counter() - started:.1f} s")
    return measure("sqlite", env, 1, new_base(devices, cycled), lambda b, n: raw_sqlite(path, b, n))


def run_postgres(work: Path, devices: int, cycled: int) -> list[Line]:
    cluster = Cluster()
    dsn = cluster.start()
    try:
        env = environment(work / "postgres", dsn)
        reemploi(env, "migrate")
        started = time.perf_counter()
        asyncio.run(fill_postgres(dsn, devices, cycled))
        print(f"postgres: {devices} devices inserted in {time.perf_counter() - started:.1f} s")
        return measure(
            "postgres (2 workers)",
            env,
            2,
            new_base(devices, cycled),
            lambda b, n: asyncio.run(raw_postgres(dsn, b, n)),
        )
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Database path benchmark (issue 16).")
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--disk-index",
        action="store_true",
        help="add an index on disk.device after the fill (not in the schema: shows its effect)",
    )
    options = parser.parse_args()
    OPTIONS["disk_index"] = options.disk_index
    cycled = (ONE_CLIENT + RAW + FLOOR_RAW + 40 + EIGHT_CLIENTS * PER_CLIENT) // 2 + 10
    if options.devices < cycled * 2:
        raise SystemExit(f"--devices must be at least {cycled * 2}.")
    work = Path(tempfile.mkdtemp(prefix="reemploi-db-bench-", dir="/var/tmp"))
    started = time.perf_counter()
    lines: list[Line] = []
    try:
        if options.engine in ("sqlite", "both"):
            lines += run_sqlite(work, options.devices, cycled)
        if options.engine in ("postgres", "both"):
            lines += run_postgres(work, options.devices, cycled)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    index = ", with an index on disk.device" if options.disk_index else ""
    print(
        f"Database path, {options.devices} devices{index} (issue 16), "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    header = ("engine", "measure", "Réemploi", "raw", "ratio", "target", "result")
    table = [
        (
            line.engine,
            line.measure,
            line.ours,
            line.raw,
            line.ratio,
            line.target,
            "" if line.met is None else "met" if line.met else "MISSED",
        )
        for line in lines
    ]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if any(line.met is False for line in lines):
        print("At least one target is missed.")


if __name__ == "__main__":
    main()
