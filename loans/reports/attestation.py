"""The attestation of reuse a public donor joins to its décret 2023-266 declaration.

Since the REEN law, State bodies and local authorities must send a share of their retired IT to
reuse, and it counts only if the receiver proves it. Per device of the donor's lots: received
on, then its outcome read from the events — reused (lent, given or sold), recycled (WEEE), other
(parts, lost, stolen) or still in stock — with its date; sums per outcome; avoided emissions
from the ADEME figures (loans/reports/ademe.json), source printed.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from inventory.clock import now
from inventory.errors import Invalid, NotFound
from inventory.states import DONOR_KIND_LABELS_FR, KIND_LABELS_FR
from inventory.tables import Donor, Event
from labels.pdf import render_pdf_async
from loans.reports import impact
from loans.reports.cells import safe_row
from loans.reports.donor import PUBLIC_DONOR_KINDS

TEMPLATES = Path(__file__).parent / "templates"


class Outcome(StrEnum):
    lent = "lent"
    given = "given"
    sold = "sold"
    recycled = "recycled"
    parts = "parts"
    lost = "lost"
    in_stock = "in_stock"


OUTCOME_LABELS = {
    Outcome.lent: "Réemployé : prêté",
    Outcome.given: "Réemployé : donné",
    Outcome.sold: "Réemployé : vendu",
    Outcome.recycled: "Recyclé (filière DEEE)",
    Outcome.parts: "Démonté pour pièces détachées",
    Outcome.lost: "Perdu ou volé",
    Outcome.in_stock: "En stock, en préparation",
}
REUSED = (Outcome.lent, Outcome.given, Outcome.sold)
RULE = (
    "Chaque appareil compte une fois. Réemployé : donné ou vendu (la date est celle de la "
    "sortie), sinon prêté au moins une fois (date du premier prêt). Recyclé : sorti du parc "
    "vers la filière DEEE sans avoir été réemployé. Les autres sorties (pièces détachées, "
    "perte, vol) et les appareils encore en stock sont comptés à part."
)


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def outcome_of(events: list[dict[str, Any]]) -> tuple[Outcome, date | None]:
    """A device's outcome and its date, from its checkout, retire and loss events in order."""
    first_loan: date | None = None
    retired: tuple[str, date | None] | None = None
    for event in events:
        if event["kind"] == "checkout" and first_loan is None:
            first_loan = _day(event["at"])
        elif event["kind"] == "retire":
            retired = (_payload(event["payload"]).get("reason", ""), _day(event["at"]))
        elif event["kind"] == "declare_lost":
            retired = ("lost", _day(event["at"]))
    if retired and retired[0] in (Outcome.given, Outcome.sold):
        return Outcome(retired[0]), retired[1]
    if first_loan is not None:
        return Outcome.lent, first_loan
    if retired is None:
        return Outcome.in_stock, None
    by_reason = {"recycled_weee": Outcome.recycled, "parts": Outcome.parts}
    return by_reason.get(retired[0], Outcome.lost), retired[1]


async def attestation(donor_id: int) -> dict[str, Any]:
    """The attestation's content for a public donor (Invalid for another donor)."""
    donor = await Donor.select(Donor.id, Donor.name, Donor.kind).where(Donor.id == donor_id).first()
    if donor is None:
        raise NotFound(f"Donateur {donor_id} inconnu.")
    if donor["kind"] not in PUBLIC_DONOR_KINDS:
        raise Invalid(
            "L'attestation de réemploi (décret 2023-266) concerne les dons des services de "
            "l'État et des collectivités : ce donateur n'est pas un organisme public."
        )
    devices = await Event.raw(
        "SELECT d.id, d.asset_tag, d.kind, d.brand, d.model, d.serial, o.id AS donation_id,"
        " o.received_on, o.weee_reference FROM device d JOIN donation o ON d.donation = o.id"
        " WHERE o.donor = {} ORDER BY o.id, d.asset_tag",
        donor_id,
    )
    events = await Event.raw(
        "SELECT e.device, e.kind, e.at, e.payload FROM event e JOIN device d ON e.device = d.id"
        " JOIN donation o ON d.donation = o.id WHERE o.donor = {}"
        " AND e.kind IN ('checkout', 'retire', 'declare_lost') ORDER BY e.id",
        donor_id,
    )
    by_device: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_device.setdefault(event["device"], []).append(event)
    rows = []
    for device in devices:
        outcome, on = outcome_of(by_device.get(device["id"], []))
        rows.append(
            {
                "asset_tag": device["asset_tag"],
                "kind": device["kind"],
                "kind_label": KIND_LABELS_FR.get(device["kind"], device["kind"]),
                "model": " ".join(p for p in (device["brand"], device["model"]) if p),
                "serial": device["serial"] or "",
                "donation_id": device["donation_id"],
                "received_on": _day(device["received_on"]),
                "weee_reference": device["weee_reference"] or "",
                "outcome": outcome,
                "outcome_label": OUTCOME_LABELS[outcome],
                "outcome_on": on,
            }
        )
    counts = {o: sum(1 for r in rows if r["outcome"] == o) for o in Outcome}
    avoided_kinds = set(impact.figures()["avoided_per_extra_year"]["device_kinds"])
    reused_counted = sum(1 for r in rows if r["outcome"] in REUSED and r["kind"] in avoided_kinds)
    received = len(rows)
    reused = sum(counts[o] for o in REUSED)
    return {
        "donor": {**donor, "kind_label": DONOR_KIND_LABELS_FR.get(donor["kind"], donor["kind"])},
        "devices": rows,
        "lots": sorted(
            {(r["donation_id"], r["received_on"], r["weee_reference"]) for r in rows},
            key=lambda lot: lot[0],
        ),
        "totals": {
            "received": received,
            "reused": reused,
            **{o.value: counts[o] for o in Outcome},
            "reuse_share": (Decimal(reused * 100) / received).quantize(Decimal("0.1"))
            if received
            else Decimal(0),
        },
        "avoided": {
            "devices": reused_counted,
            **impact.avoided(reused_counted),
            "source": impact.figures()["avoided_per_extra_year"]["source"],
            "url": impact.figures()["avoided_per_extra_year"]["url"],
        },
        "rule": RULE,
        "generated_at": now(),
    }


async def attestation_pdf_async(content: dict[str, Any]) -> bytes:
    """The attestation as PDF/A, laid out in the renderer pool (outside any transaction)."""
    return await render_pdf_async(
        "attestation.html", {"a": content}, pdfa=True, search_path=[TEMPLATES]
    )


CSV_COLUMNS = (
    "appareil",
    "type",
    "modele",
    "numero_de_serie",
    "don",
    "recu_le",
    "reference_deee",
    "devenir",
    "date_devenir",
)


def attestation_csv(content: dict[str, Any]) -> bytes:
    """One row per device, then the sums, for the donor's own declaration tool."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in content["devices"]:
        on = r["outcome_on"].isoformat() if r["outcome_on"] else ""
        writer.writerow(
            safe_row(
                [
                    r["asset_tag"],
                    r["kind_label"],
                    r["model"],
                    r["serial"],
                    r["donation_id"],
                    r["received_on"].isoformat() if r["received_on"] else "",
                    r["weee_reference"],
                    r["outcome_label"],
                    on,
                ]
            )
        )
    totals = content["totals"]
    writer.writerow([])
    for label, value in (
        ("appareils_recus", totals["received"]),
        ("appareils_reemployes", totals["reused"]),
        ("dont_pretes", totals["lent"]),
        ("dont_donnes", totals["given"]),
        ("dont_vendus", totals["sold"]),
        ("appareils_recycles_deee", totals["recycled"]),
        ("pieces_detachees", totals["parts"]),
        ("perdus_ou_voles", totals["lost"]),
        ("en_stock", totals["in_stock"]),
        ("co2e_evite_kg", content["avoided"]["co2e_kg"]),
    ):
        writer.writerow([label, value])
    return buffer.getvalue().encode("utf-8")
