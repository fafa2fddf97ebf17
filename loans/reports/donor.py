"""The donor report: each donated device's fate with its erasure certificates, as proof of reuse.

A donor sees its lots (date, WEEE / collection reference), its devices (tag, model, serial) and
what became of them: wiped (Clear or Purge, each passed record of the device's disks, whether
from the bench, over SSH or from a station, with its certificate number and public verification
address), lent and how many times, given, sold, recycled through the WEEE channel, used for
parts, lost, stolen, or still in stock. Never who borrowed or received them.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from inventory.clock import now
from inventory.errors import NotFound
from inventory.states import STATE_LABELS_FR, DonorKind
from inventory.tables import Donor, Event
from labels.pdf import render_pdf, render_pdf_async
from provisioning import certificates, records

TEMPLATES = Path(__file__).parent / "templates"
RETIREMENT_LABELS = {
    "recycled_weee": "Recyclé par la filière DEEE",
    "parts": "Démonté pour pièces détachées",
    "given": "Donné après effacement",
    "sold": "Vendu à prix solidaire après effacement",
    "lost": "Perdu pendant un prêt",
    "stolen": "Volé pendant un prêt",
}
METHOD_LABELS = {"clear": "Clear", "purge": "Purge"}
# Donors bound by the décret 2023-266 (State bodies, local authorities): they get an attestation.
PUBLIC_DONOR_KINDS = frozenset({DonorKind.public_body})


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


async def donor_report(donor_id: int, base_url: str = "") -> dict[str, Any]:
    """The donor, its donations, and per device its fate and certificates (four queries)."""
    donor = await Donor.select(Donor.id, Donor.name, Donor.kind).where(Donor.id == donor_id).first()
    if donor is None:
        raise NotFound(f"Donateur {donor_id} inconnu.")
    devices = await Event.raw(
        "SELECT d.id, d.asset_tag, d.kind, d.brand, d.model, d.serial, d.state,"
        " o.id AS donation_id, o.received_on, o.weee_reference FROM device d"
        " JOIN donation o ON d.donation = o.id WHERE o.donor = {} ORDER BY o.id, d.asset_tag",
        donor_id,
    )
    # A record names the device it was made for (attached after the fact for a bench or station
    # wipe); one that names none counts for the device its disk sits in.
    certificates = await Event.raw(
        "SELECT d.id AS device, r.method_type, r.certificate_id, r.finished_at, r.station,"
        " r.host FROM sanitization_record r JOIN disk k ON r.disk = k.id"
        " JOIN device d ON d.id = COALESCE(r.device, k.device)"
        " JOIN donation o ON d.donation = o.id WHERE o.donor = {} AND r.status = 'passed'"
        " ORDER BY r.id",
        donor_id,
    )
    loans = await Event.raw(
        "SELECT ld.device, COUNT(*) AS n FROM loan_device ld JOIN device d ON ld.device = d.id"
        " JOIN donation o ON d.donation = o.id WHERE o.donor = {} GROUP BY ld.device",
        donor_id,
    )
    retirements = await Event.raw(
        "SELECT e.device, e.at, e.payload FROM event e JOIN device d ON e.device = d.id"
        " JOIN donation o ON d.donation = o.id WHERE o.donor = {}"
        " AND e.kind IN ('retire', 'declare_lost') ORDER BY e.id",
        donor_id,
    )
    by_device: dict[int, list[dict[str, Any]]] = {}
    for row in certificates:
        certificate_id = row["certificate_id"] or ""
        by_device.setdefault(row["device"], []).append(
            {
                "method": METHOD_LABELS.get(row["method_type"], row["method_type"]),
                "certificate_id": certificate_id,
                "verify_url": f"{base_url.rstrip('/')}/verify/{certificate_id}"
                if certificate_id
                else "",
                "finished_at": _day(row["finished_at"]),
                "where": row["station"] or row["host"] or "",
            }
        )
    lent = {row["device"]: int(row["n"]) for row in loans}
    reasons = {row["device"]: _payload(row["payload"]).get("reason", "") for row in retirements}
    left_on = {row["device"]: _day(row["at"]) for row in retirements}
    rows = []
    for device in devices:
        fate = []
        if by_device.get(device["id"]):
            methods = sorted({c["method"] for c in by_device[device["id"]]})
            fate.append(f"Données effacées ({', '.join(methods)})")
        if lent.get(device["id"]):
            times = lent[device["id"]]
            fate.append(f"Prêté {times} fois" if times > 1 else "Prêté")
        if device["state"] == "retired":
            fate.append(RETIREMENT_LABELS.get(reasons.get(device["id"], ""), "Sorti du parc"))
        else:
            fate.append(f"État actuel : {STATE_LABELS_FR.get(device['state'], device['state'])}")
        rows.append(
            {
                **{k: device[k] for k in ("asset_tag", "kind", "brand", "model", "serial")},
                "donation_id": device["donation_id"],
                "received_on": device["received_on"],
                "weee_reference": device["weee_reference"] or "",
                "left_on": left_on.get(device["id"], "") if device["state"] == "retired" else "",
                "fate": " ; ".join(fate),
                "certificates": by_device.get(device["id"], []),
                "reused": bool(lent.get(device["id"]))
                or reasons.get(device["id"]) in ("given", "sold"),
            }
        )
    lots = {r["donation_id"]: (r["received_on"], r["weee_reference"]) for r in rows}
    return {
        "donor": donor,
        "public": donor["kind"] in PUBLIC_DONOR_KINDS,
        "devices": rows,
        "donations": sorted(lots),
        "lots": [
            {"id": i, "received_on": str(lots[i][0]), "weee_reference": lots[i][1]}
            for i in sorted(lots)
        ],
        "totals": {
            "devices": len(rows),
            "wiped": sum(1 for r in rows if r["certificates"]),
            "reused": sum(1 for r in rows if r["reused"]),
            "recycled": sum(1 for r in rows if "DEEE" in r["fate"]),
        },
        "generated_at": now(),
    }


def _day(value: Any) -> str:
    """A timestamp's day, as text (SQLite answers text, PostgreSQL a datetime)."""
    if value is None:
        return ""
    return value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]


def donor_pdf(report: dict[str, Any]) -> bytes:
    """The donor report as PDF/A, laid out here (the command line); servers use the async one."""
    return render_pdf("donor_report.html", {"r": report}, pdfa=True, search_path=[TEMPLATES])


async def donor_pdf_async(report: dict[str, Any]) -> bytes:
    """The donor report as PDF/A, laid out in the renderer pool (outside any transaction)."""
    return await render_pdf_async(
        "donor_report.html", {"r": report}, pdfa=True, search_path=[TEMPLATES]
    )


async def certificate_bundle(donor_id: int, base_url: str) -> bytes:
    """A ZIP: the donor report and, per donation, its erasure certificate (PDF/A)."""
    report = await donor_report(donor_id, base_url)
    files = {f"rapport-donateur-{donor_id}.pdf": await donor_pdf_async(report)}
    for donation_id in report["donations"]:
        donation, rows = await records.donation_records(donation_id)
        if rows:
            content = await certificates.donation_certificate_pdf_async(donation, rows, base_url)
            files[f"certificat-don-{donation_id}.pdf"] = content
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


class DonorOut(msgspec.Struct):
    id: int
    name: str
    kind: str


class CertificateOut(msgspec.Struct):
    method: str
    certificate_id: str
    verify_url: str
    finished_at: str = ""
    where: str = ""


class DonorLotOut(msgspec.Struct):
    id: int
    received_on: str
    weee_reference: str


class DonorDeviceOut(msgspec.Struct):
    asset_tag: str
    kind: str | None
    brand: str | None
    model: str | None
    serial: str | None
    donation_id: int
    received_on: str
    weee_reference: str
    left_on: str
    fate: str
    certificates: list[CertificateOut]
    reused: bool


class DonorTotals(msgspec.Struct):
    devices: int
    wiped: int
    reused: int
    recycled: int


class DonorReportOut(msgspec.Struct):
    """The donor report as the API answers it."""

    donor: DonorOut
    public: bool
    devices: list[DonorDeviceOut]
    donations: list[int]
    lots: list[DonorLotOut]
    totals: DonorTotals
    generated_at: datetime


def donor_report_out(report: dict[str, Any]) -> DonorReportOut:
    devices = [{**row, "received_on": str(row["received_on"])} for row in report["devices"]]
    return msgspec.convert({**report, "devices": devices}, DonorReportOut, strict=False)
