"""The association's places for the national map: the "lieux de médiation numérique" table schema.

One row per site that takes work and has what the schema requires (name, address, postal code,
commune), with the schema's 32 columns in its order, as CSV (UTF-8, comma, "|" between values)
and as JSON (the same rows as objects). Schema v1.0.2, LaMednum/standard-mediation-num.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from inventory.clock import now
from inventory.sites import SEPARATOR, SiteOut, list_sites, phone_international
from loans.reports.cells import safe

SOURCE = "Réemploi"
# The schema requires a pivot (SIRET, RNA or RIDET, 9 to 14 letters or digits); a site whose
# SIRET is not known yet gets the zeros the national map's tools write in that case.
PIVOT_UNKNOWN = "00000000000000"
COLUMNS = (
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "code_insee",
    "adresse",
    "complement_adresse",
    "latitude",
    "longitude",
    "typologie",
    "telephone",
    "courriels",
    "site_web",
    "horaires",
    "presentation_resume",
    "presentation_detail",
    "source",
    "itinerance",
    "structure_parente",
    "date_maj",
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "dispositif_programmes_nationaux",
    "formations_labels",
    "autres_formations_labels",
    "modalites_acces",
    "modalites_accompagnement",
    "fiche_acces_libre",
    "prise_rdv",
)
REQUIRED = {"address": "adresse", "postal_code": "code postal", "commune": "commune"}
# Cells copied from a closed list or checked against a pattern: no formula can hide there, and
# the `+` of a phone number must stay.
CHECKED = {"telephone", "code_postal", "code_insee", "date_maj", "latitude", "longitude"}


def missing(site: SiteOut) -> list[str]:
    """What the schema requires that the site's description lacks, in words."""
    return [words for field, words in REQUIRED.items() if not getattr(site, field).strip()]


def place(site: SiteOut, today: date) -> dict[str, Any]:
    """One site as a row of the schema (values as the schema types them)."""
    updated = date.fromisoformat(site.updated_at[:10]) if site.updated_at else today

    def joined(values: list[Any]) -> str:
        return SEPARATOR.join(str(v) for v in values)

    return {
        "id": f"reemploi-site-{site.id}",
        "pivot": site.siret or PIVOT_UNKNOWN,
        "nom": site.name,
        "commune": site.commune,
        "code_postal": site.postal_code,
        "code_insee": site.insee_code,
        "adresse": site.address.replace("\r", " ").replace("\n", " ").strip(),
        "complement_adresse": site.address_complement,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "typologie": joined(site.typology),
        "telephone": (phone_international(site.phone) or "") if site.phone else "",
        "courriels": joined(site.emails),
        "site_web": joined(site.websites),
        "horaires": site.opening_hours,
        "presentation_resume": site.summary,
        "presentation_detail": site.description,
        "source": SOURCE,
        "itinerance": joined(site.roaming),
        "structure_parente": site.parent_structure,
        "date_maj": min(updated, today).isoformat(),
        "services": joined(site.services),
        "publics_specifiquement_adresses": joined(site.publics),
        "prise_en_charge_specifique": joined(site.specific_support),
        "frais_a_charge": joined(site.fees),
        "dispositif_programmes_nationaux": joined(site.national_programmes),
        "formations_labels": joined(site.labels),
        "autres_formations_labels": site.other_labels,
        "modalites_acces": joined(site.access_modes),
        "modalites_accompagnement": joined(site.support_modes),
        "fiche_acces_libre": site.accessibility_url,
        "prise_rdv": site.booking_url,
    }


async def places() -> tuple[list[dict[str, Any]], list[tuple[str, list[str]]]]:
    """The rows of the sites that take work, and the sites left out with what they lack."""
    today = now().date()
    rows, left_out = [], []
    for site in await list_sites():
        lacking = missing(site)
        if lacking:
            left_out.append((site.name, lacking))
        else:
            rows.append(place(site, today))
    return rows, left_out


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """The rows as the schema's CSV: every column, in order, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            cell = "" if value is None else str(value)
            cells.append(cell if column in CHECKED else safe(cell))
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")


def to_json(rows: list[dict[str, Any]]) -> bytes:
    """The rows as a JSON array of objects, every key in the schema's order, blanks as null."""
    keep = [{k: None if row[k] == "" else row[k] for k in COLUMNS} for row in rows]
    return json.dumps(keep, ensure_ascii=False, indent=1).encode("utf-8")
