"""Not a test: a workshop's year built through the services, for the report tests.

Phase "old" happens, then every date is moved 400 days back (before the period); phase "new"
happens inside the period [today - 30, today + 40].
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from inventory import devices, intake
from inventory.tables import Device, Donation, Event, Site
from loans import borrowers, charter, checkout, mediation, repairs, returns
from loans.tables import (
    Borrower,
    DeviceReturn,
    Loan,
    LoanDevice,
    MediationSession,
    RepairTicket,
    Signature,
)
from provisioning import consistency, records
from provisioning.tables import MethodType, SanitizationRecord, Status
from tests.support import CHARTER_TEXT, signature_png

SHIFT = timedelta(days=400)
PERSONAL_FIELDS = ("full_name", "email", "phone", "address", "guardian_name", "referent")
PERSONS = [
    {
        "full_name": "Aïcha Benali",
        "email": "aicha.benali@example.org",
        "phone": "06 11 22 33 44",
        "address": "3 impasse des Tilleuls, Vénissieux",
        "referent": "Mme Referente Solène",
        "commune": "Lyon",
        "insee_code": "69123",
        "qpv_resident": True,
        "children_count": 2,
    },
    {
        "full_name": "Bruno Carvalho",
        "email": "bruno.carvalho@example.org",
        "phone": "07 98 76 54 32",
        "address": "18 chemin du Moulin, Villeurbanne",
        "commune": "Villeurbanne",
        "insee_code": "69266",
        "qpv_resident": False,
        "children_count": 1,
    },
    {
        "full_name": "Chloé Dumont-Ferrand",
        "email": "chloe.df@example.org",
        "phone": "04 72 00 11 22",
        "address": "9 allée Marie Curie, Lyon",
        "guardian_name": "Gérard Dumont-Ferrand",
        "commune": "Lyon",
        "insee_code": "69123",
        "qpv_resident": True,
        "children_count": 3,
    },
    {
        "full_name": "Denis Ébrard",
        "email": "denis.ebrard@example.org",
        "phone": "06 55 44 33 22",
        "address": "1 place Grenette, Grenoble",
        "commune": "Grenoble",
        "insee_code": "38185",
        "qpv_resident": False,
        "children_count": 0,
    },
]


async def wiped_ready(donor_kind: str, methods: list[MethodType], actor: str = "tech") -> list[str]:
    """A donation of laptops, each wiped for real through the records (Clear or Purge), ready."""
    site = await Site.select().first() or await intake.create_site("Atelier")
    donor = await intake.create_donor(f"Donateur {donor_kind}", donor_kind, "dons@example.com")
    lot = await intake.register_donation(
        donor_id=donor["id"],
        site_id=site["id"],
        received_on=date.today(),
        devices=[intake.DeviceSpec(kind="laptop", brand="Dell", model="E7470")] * len(methods),
        actor=actor,
    )
    for tag, method in zip(lot["tags"], methods, strict=True):
        await devices.apply_transition(tag, "triage", actor)
        media = records.Media(model="SSD 256", serial=f"S-{tag}", size_bytes=256 * 10**9)
        started = await records.start(
            media,
            records.Runner(operator=actor, station="banc-1"),
            method_type=method,
            verification_method="full",
            tag=tag,
        )
        purged = method == MethodType.purge
        # A Purge is certified only with its evidence (DESIGN invariant 10).
        evidence = consistency.PurgeEvidence(
            commands=["nvme sanitize /dev/nvme0 --sanact=2"],
            completion="completed",
            completion_source="nvme sanitize-log",
            markers=consistency.MarkerCheck(markers=64, survivors=0, passed=True),
        )
        outcome = records.Outcome(
            status=Status.passed,
            method_type=method,
            method="nvme sanitize" if purged else "overwrite zeros",
            tool="reemploi-wipe 1",
            verification_method="markers" if purged else "full",
            verification_result="passed",
            verified_bytes=64 * consistency.MARKER_SIZE if purged else media.size_bytes,
            bytes_written=media.size_bytes,
            evidence=evidence if purged else None,
        )
        await records.finish(started["id"], outcome, actor)
        await devices.record_image_verified(tag, True, actor, {"image": "debian"})
        await devices.apply_transition(tag, "image_verified", actor)
        await devices.apply_transition(tag, "qualify", actor)
    return lot["tags"]


async def lend(borrower: dict, tags: list[str], programme: dict) -> dict:
    return await checkout.checkout(
        checkout.CheckoutIn(borrower["id"], tags, programme_id=programme["id"]),
        checkout.SignatureIn("drawn", signature_png(), "Signataire", "self"),
        "mediatrice",
    )


async def sessions_of(loan: dict) -> list[int]:
    rows = (
        await MediationSession.select(MediationSession.id)
        .where(MediationSession.loan == loan["id"])
        .order_by(MediationSession.planned_on)
    )
    return [r["id"] for r in rows]


def done(minutes: int, themes: list[str], autonomy: str) -> mediation.SessionRecord:
    return mediation.SessionRecord(
        status="done",
        held_on=date.today(),
        place_type="lieu_activite",
        duration_minutes=minutes,
        themes=themes,
        autonomy=autonomy,
    )


SHIFTED = [
    (Event, ["at"]),
    (Loan, ["opened_at", "closed_at"]),
    (LoanDevice, ["out_at", "returned_at"]),
    (DeviceReturn, ["at"]),
    (RepairTicket, ["opened_at", "closed_at"]),
    (SanitizationRecord, ["started_at", "finished_at", "heartbeat_at"]),
    (Donation, ["received_on"]),
    (MediationSession, ["planned_on", "held_on"]),
    (Signature, ["signed_at"]),
    (Borrower, ["created_at"]),
    (Device, ["created_at", "updated_at"]),
]


async def shift_back() -> None:
    """Move every date recorded so far 400 days into the past (test set-up only)."""
    for table, columns in SHIFTED:
        for row in await table.select():
            values = {getattr(table, c): row[c] - SHIFT for c in columns if row[c] is not None}
            if values:
                await table.update(values).where(table.id == row["id"])


async def build() -> dict[str, Any]:
    """The scenario; returns the programmes, the borrowers' personal fields and the period."""
    await charter.create_version("Charte", CHARTER_TEXT, date.today() - timedelta(days=500), "t")
    p1 = await borrowers.create_programme("Équiper les familles", "Département du Rhône")
    p2 = await borrowers.create_programme("Fondation Numérique", "Fondation X")
    school = await borrowers.create_organisation("École Jean Jaurès", "school", "Lyon", "69123")
    people = []
    for person in PERSONS:
        data = borrowers.BorrowerIn(**person)
        if person["full_name"].startswith("Chloé"):
            data.school_id = school["id"]
        people.append(await borrowers.create_borrower(data))
    h1, h2, h3, h4 = people

    # Old phase: three laptops (Clear), two loans of P1; one comes back, one session done.
    a1, a2, a3 = await wiped_ready("company", [MethodType.clear] * 3)
    l1 = await lend(h1, [a1], p1)
    await lend(h2, [a2], p1)
    await returns.check_in(a2, returns.ReturnIn("end", charger=True), "m")
    await mediation.record_session((await sessions_of(l1))[0], done(45, ["email"], "autonome"), "m")
    await shift_back()

    # New phase, inside the period.
    b1, b2 = await wiped_ready("public_body", [MethodType.clear, MethodType.purge])
    l3 = await lend(h3, [b1, b2], p1)
    await returns.check_in(b2, returns.ReturnIn("end"), "m")
    await returns.check_in(b1, returns.ReturnIn("repair", damage=True, damage_notes="clavier"), "m")
    ticket = await RepairTicket.select().where(RepairTicket.closed_at.is_null()).first()
    await repairs.close_ticket(ticket["id"], outcome="repaired", actions="clavier", actor="t")
    await returns.check_in(a1, returns.ReturnIn("lost"), "m")
    l4 = await lend(h4, [a3], p2)
    await returns.check_in(a3, returns.ReturnIn("stolen", police_report="PV 2026/77"), "m")
    s3 = await sessions_of(l3)
    await mediation.record_session(
        s3[0],
        done(90, ["prendre_en_main_du_materiel", "email"], "partiellement_autonome"),
        "m",
    )
    await mediation.record_session(s3[1], mediation.SessionRecord(status="missed"), "m")
    s4 = await sessions_of(l4)
    await mediation.record_session(s4[0], done(60, ["email"], "autonome"), "m")
    codes = [r["code"] for r in await Borrower.select(Borrower.code)]
    return {
        "p1": p1,
        "p2": p2,
        "start": date.today() - timedelta(days=30),
        "end": date.today() + timedelta(days=40),
        "personal": [v for p in PERSONS for k, v in p.items() if k in PERSONAL_FIELDS]
        + ["Signataire", "PV 2026/77", *codes],
    }
