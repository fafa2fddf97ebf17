"""Erasure and the retention purge leave no trace of the person (issue 13, DESIGN invariant 6).

The scenario runs over HTTP against the real server, with its log captured: a checkout whose
free texts carry the name and phone, a repair ticket with the phone in its fault, a theft with a
police reference, a follow-up session and a collective workshop with notes, a note on a device's
history. After erasure (API) and after the purge (`reemploi purge`), every text and JSON column,
every file under the data directory (the SQLite file and its WAL included) and the server log
are searched for the person's name, phone, e-mail and police reference; another borrower whose
loan shares the signature image byte for byte keeps every document intact.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from inventory import config
from inventory.config import data_dir
from loans import documents
from loans.tables import Borrower, Loan, MediationSession
from tests.server import running_server
from tests.support import CHARTER_TEXT, ready_devices, run, signature_png
from tests.test_loans_privacy_db import find_everywhere

pytestmark = pytest.mark.db


@dataclass
class Person:
    name: str
    phone: str
    email: str
    address: str
    police: str

    def needles(self) -> list[str]:
        """Every spelling of the person's identifiers a search must not find."""
        first, last = self.name.split(" ", 1)
        plain = unicodedata.normalize("NFD", first).encode("ascii", "ignore").decode()
        digits = "".join(c for c in self.phone if c.isdigit())
        spaced = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
        return [
            self.name,
            first,
            plain,
            *last.split("-"),
            self.email,
            self.phone,
            digits,
            spaced,
            spaced.replace(" ", "."),
            "+33 " + spaced[1:],
            self.police,
            self.address.split(",")[0],
        ]


ERASED = Person(
    "Philomène Quesnoy-Arbaud",
    "07 48 93 15 62",
    "philomene.quesnoy@example.org",
    "3 impasse des Glycines, 69100 Villeurbanne",
    "PV-69266-2026-004817",
)
PURGED = Person(
    "Aurélien Kermarrec-Vasseur",
    "06 71 20 84 39",
    "aurelien.kermarrec@example.net",
    "18 chemin des Mûriers, 69200 Vénissieux",
    "PV-69259-2024-000731",
)
OTHER = "Bertrand Ollivier-Sauvage"


@pytest.fixture(scope="module")
def logged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real server (`reemploi serve`), its standard output and error kept in a log file."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(1, log=log) as url:
        yield url, log


@pytest.fixture
def idle_connection(db: None) -> Iterator[None]:
    """On SQLite, a connection held open (another worker, a backup) keeps the WAL file: when
    the last connection closes SQLite folds it in and deletes it, hiding what stays in it."""
    if config.uses_postgres():
        yield
        return
    with contextlib.closing(sqlite3.connect(config.sqlite_path())) as held:
        held.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        yield


def api(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def signature(signer: str) -> dict[str, str]:
    # The same drawn image for both borrowers: one content-addressed file for two loans.
    return {
        "method": "drawn",
        "image_base64": base64.b64encode(signature_png()).decode(),
        "signer_name": signer,
        "signer_role": "self",
    }


def history(url: str, tokens: dict[str, str], person: Person) -> dict[str, Any]:
    """A borrower's whole life through the API, plus another borrower sharing a signature."""
    coordinator, mediator = api(url, tokens["coordinator"]), api(url, tokens["mediator"])
    technician = api(url, tokens["technician"])
    today = date.today()
    ok(
        coordinator.post(
            "/api/v1/charters",
            json={"title": "Charte", "text": CHARTER_TEXT, "in_force_from": today.isoformat()},
        ),
        201,
    )
    first = person.name.split()[0]
    tags = run(ready_devices(4))
    borrower = ok(
        mediator.post(
            "/api/v1/borrowers",
            json={
                "full_name": person.name,
                "phone": person.phone,
                "email": person.email,
                "address": person.address,
                "referent": "Gisèle Tardieu-Lamotte",
                "commune": "Villeurbanne",
                "insee_code": "69266",
                "qpv_resident": True,
                "children_count": 2,
            },
        ),
        201,
    )
    other = ok(
        mediator.post(
            "/api/v1/borrowers",
            json={"full_name": OTHER, "phone": "06 55 44 33 22", "commune": "Bron"},
        ),
        201,
    )
    loan = ok(
        mediator.post(
            "/api/v1/loans",
            json={
                "borrower_id": borrower["id"],
                "tags": tags[:3],
                "accessories": ["chargeur", f"sacoche au nom de {person.name}"],
                "condition_out": f"Remis à {person.name}, joignable au {person.phone}, "
                f"{person.email}",
                "signature": signature(person.name),
            },
        ),
        201,
    )
    kept = ok(
        mediator.post(
            "/api/v1/loans",
            json={
                "borrower_id": other["id"],
                "tags": tags[3:],
                "condition_out": f"Remis à {OTHER}",
                "signature": signature(OTHER),
            },
        ),
        201,
    )
    image = hashlib.sha256(signature_png()).hexdigest()
    # Repair during the loan: the phone in the fault, the name in the actions.
    # Its follow-up, looked up while planned: closing the loan cancels it, and it is recorded after.
    planned = ok(mediator.get("/api/v1/sessions", params={"days": 60}))
    follow_up = [s for s in planned if s["loan"] == loan["id"]][0]
    ok(
        mediator.post(
            "/api/v1/loans/returns",
            json={
                "tag": tags[0],
                "reason": "repair",
                "damage": True,
                "damage_notes": f"Écran fissuré ; rappeler {first} au "
                + person.phone.replace(" ", ""),
            },
        )
    )
    tickets = ok(technician.get("/api/v1/repairs"))
    (ticket,) = [t for t in tickets if t["loan"] == loan["id"]]
    ok(
        technician.post(
            f"/api/v1/repairs/{ticket['id']}/close",
            json={
                "outcome": "repaired",
                "actions": f"Écran changé, rendu à {person.name} (+33 {person.phone[1:]})",
                "parts": f"dalle commandée pour {person.name.split()[1]}",
            },
        )
    )
    back = {"reason": "end", "damage": True, "damage_notes": f"rayure, signalée par {first}"}
    ok(mediator.post("/api/v1/loans/returns", json={"tag": tags[0], **back}))
    ok(
        mediator.post(
            "/api/v1/loans/returns",
            json={"tag": tags[1], "reason": "stolen", "police_report": person.police},
        )
    )
    ok(mediator.post("/api/v1/loans/returns", json={"tag": tags[2], "reason": "end"}))
    # A note typed on the device's history, outside any loan.
    ok(
        technician.post(
            f"/api/v1/devices/{tags[2]}/transitions",
            json={
                "transition": "retire",
                "reason": "parts",
                "note": f"Rendu par {person.name} ({person.phone}), {person.address}",
            },
        )
    )
    record = {
        "status": "done",
        "held_on": today.isoformat(),
        "place_type": "lieu_activite",
        "duration_minutes": 45,
        "themes": ["email"],
        "autonomy": "autonome",
    }
    ok(
        mediator.post(
            f"/api/v1/sessions/{follow_up['id']}/record",
            json={
                **record,
                "notes": f"{person.name} a créé {person.email} ; tél. {person.phone}",
            },
        )
    )
    workshop = ok(
        mediator.post(
            "/api/v1/sessions/workshops",
            json={
                "planned_on": today.isoformat(),
                "borrower_ids": [borrower["id"], other["id"]],
                "label": "Atelier courriel",
            },
        ),
        201,
    )
    ok(
        mediator.post(
            f"/api/v1/sessions/{workshop['id']}/record",
            json={**record, "notes": f"Présents : {person.name} et {OTHER}"},
        )
    )
    assert run(find_everywhere(person.name)), "the search must see the data before erasure"
    assert run(find_everywhere(person.police)), "the police reference is on the return"
    return {
        "borrower": borrower,
        "other": other,
        "loan": loan,
        "kept": kept,
        "image": image,
        "workshop": workshop["id"],
        "mediator": mediator,
    }


def spellings(needle: str) -> list[bytes]:
    """How a value may sit in a file: UTF-8, or JSON with non-ASCII escaped."""
    escaped = json.dumps(needle)[1:-1]
    return sorted({needle.lower().encode(), escaped.lower().encode()})


def assert_nothing_left(person: Person, log: Path, scenario: dict[str, Any]) -> None:
    needles = person.needles()
    in_files = []
    for path in sorted(p for p in data_dir().rglob("*") if p.is_file()):
        content = path.read_bytes().lower()
        in_files += [(path.name, n) for n in needles for s in spellings(n) if s in content]
    assert in_files == [], in_files
    log_text = log.read_bytes().lower()
    in_log = [n for n in needles for s in spellings(n) if s in log_text]
    assert in_log == [], in_log
    for needle in needles:
        for spelling in {needle, json.dumps(needle)[1:-1]}:
            assert run(find_everywhere(spelling)) == [], spelling
    # The other borrower keeps everything: contact, texts and files, bytes unchanged.
    mediator = scenario["mediator"]
    other = ok(mediator.get(f"/api/v1/borrowers/{scenario['other']['id']}/export"))
    assert other["contact"]["full_name"] == OTHER
    assert other["loans"][0]["condition_out"] == f"Remis à {OTHER}"
    kept = scenario["kept"]
    for sha in (kept["document_sha256"], scenario["image"]):
        assert hashlib.sha256(documents.path_of(sha).read_bytes()).hexdigest() == sha
    charter = mediator.get(f"/api/v1/loans/{kept['id']}/charter.pdf")
    assert hashlib.sha256(charter.content).hexdigest() == kept["document_sha256"]
    # The erased loan's own charter is gone; the shared signature image is not.
    assert not documents.path_of(scenario["loan"]["document_sha256"]).exists()
    # A collective workshop's notes are scrubbed, not blanked: the other attendee stays.
    workshop = ok(mediator.get(f"/api/v1/sessions/{scenario['workshop']}"))
    assert workshop["notes"] == f"Présents : [anonymisé] et {OTHER}"
    events = ok(mediator.get(f"/api/v1/loans/{scenario['loan']['id']}/events"))
    lost = [e for e in events if e["kind"] == "declare_lost"][0]
    assert lost["payload"]["note"] == "Plainte déposée"


def test_erasure_through_the_api_leaves_no_trace(
    logged_server: tuple[str, Path], tokens: dict[str, str], idle_connection: None
) -> None:
    url, log = logged_server
    scenario = history(url, tokens, ERASED)
    coordinator = api(url, tokens["coordinator"])
    erased = ok(coordinator.post(f"/api/v1/borrowers/{scenario['borrower']['id']}/erase"))
    assert erased["anonymised_at"] is not None
    assert erased["code"] == scenario["borrower"]["code"]
    assert_nothing_left(ERASED, log, scenario)
    # The loan stays, pseudonymous: devices, status and checklists are still there.
    loan = ok(coordinator.get(f"/api/v1/loans/{scenario['loan']['id']}"))
    assert loan["status"] == "closed" and len(loan["devices"]) == 3


def test_the_purge_leaves_no_trace(
    logged_server: tuple[str, Path], tokens: dict[str, str], idle_connection: None
) -> None:
    url, log = logged_server
    scenario = history(url, tokens, PURGED)
    borrower_id = scenario["borrower"]["id"]
    # Test setup: the borrower's last loan and session ended 800 days ago.
    long_ago = datetime.now(UTC) - timedelta(days=800)
    run(Borrower.update({Borrower.created_at: long_ago}).where(Borrower.id == borrower_id))
    run(
        Loan.update({Loan.opened_at: long_ago, Loan.closed_at: long_ago}).where(
            Loan.borrower == borrower_id
        )
    )
    run(
        MediationSession.update(
            {
                MediationSession.planned_on: long_ago.date(),
                MediationSession.held_on: long_ago.date(),
            }
        ).where(MediationSession.borrower == borrower_id)
    )
    reemploi = Path(sys.executable).parent / "reemploi"
    env = {**os.environ, "REEMPLOI_RETENTION_DAYS": "730"}
    done = subprocess.run(
        [str(reemploi), "purge"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"Emprunteurs anonymisés : 1 ({scenario['borrower']['code']})"
    ), done.stdout
    assert_nothing_left(PURGED, log, scenario)
    assert not any(n.lower() in done.stdout.lower() for n in PURGED.needles())
