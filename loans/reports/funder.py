"""The funder report: the figures of one programme (or all) over a period, under statistical
secrecy (loans.reports.suppression).

Counts about people (borrowers, loans and the devices lent with them, sessions, themes,
memberships, deposits, devices given or sold) from 1 to N-1, N being the threshold
(REEMPLOI_REPORT_THRESHOLD, default 5), are shown as "< N"; zero stays zero. Other cells are then
masked ("masqué") until none of them can be recomputed through the relations the report prints;
the note says which. The workshop's own figures (collection, wiping, imaging, devices retired for
parts or recycling) are not about people and are shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import msgspec

from inventory.clock import now
from inventory.config import settings
from inventory.errors import NotFound
from inventory.states import RETIREMENT_LABELS_FR, DonorKind, RetirementReason
from loans import communes, coop, memberships
from loans.reports import impact, suppression
from loans.reports.funder_cells import Builder, Row, Section
from loans.reports.funder_sql import SCHOOL_KINDS, _bounds, _Query, check_period, grouped, scalars
from loans.tables import Programme

__all__ = ["SCHOOL_KINDS", "Row", "Section", "_Query", "_bounds", "check_period", "funder_report"]

DEFAULT_THRESHOLD = 5
MASKED = "masqué"
# The place-type and autonomy labels are the Coop's (loans.coop), as the sessions record them.
PLACE_LABELS, AUTONOMY_LABELS, THEME_LABELS = coop.PLACE_TYPES, coop.AUTONOMY, coop.THEMATIQUES
DONOR_KIND_LABELS = {
    "company": "Entreprises",
    "public_body": "Collectivités et services publics",
    "school": "Établissements scolaires",
    "association": "Associations",
    "individual": "Particuliers",
}
# Retirements that are not about people (lost, stolen, given and sold are: see the loans and
# memberships sections).
WORKSHOP_RETIREMENTS = (RetirementReason.parts, RetirementReason.recycled_weee)
DEFINITIONS = (
    "Définitions : les appareils collectés sont ceux des dons reçus dans la période (toute "
    "l'activité de l'atelier, quel que soit le programme), comme les appareils sortis du parc ; "
    "les foyers, enfants, organisations, établissements et communes sont ceux des emprunteurs "
    "ayant un prêt en cours à un moment de la période ; les prêts en cours sont comptés au "
    "dernier jour ; le taux de perte rapporte les appareils perdus ou volés dans la période aux "
    "appareils en prêt à un moment de la période ; les séances de la période sont comptées au "
    "jour où elles ont eu lieu, sinon au jour prévu ; les heures de médiation sont celles des "
    "séances réalisées. Les dates sont comptées en temps universel (UTC)."
)


def default_threshold() -> int:
    """The threshold of statistical secrecy: REEMPLOI_REPORT_THRESHOLD, read by the settings."""
    return settings().report_threshold


def fmt(value: int | Decimal) -> str:
    """French display of a figure: integers as is, decimals with one digit and a comma."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)).replace(".", ",")
    return str(value)


@dataclass
class FunderReport:
    programme: str
    funder: str
    start: date
    end: date
    threshold: int
    generated_at: datetime
    sections: list[Section]
    impact: dict[str, Any]
    note: str = ""
    model: suppression.Model | None = None

    def rows(self) -> list[tuple[Section, Row]]:
        return [(section, row) for section in self.sections for row in section.rows]

    def value(self, key: str) -> str:
        for _, row in self.rows():
            if row.key == key:
                return row.display
        raise KeyError(key)


async def programme_label(programme_id: int | None) -> tuple[str, str]:
    if programme_id is None:
        return "Tous les programmes", ""
    row = (
        await Programme.select(Programme.name, Programme.funder)
        .where(Programme.id == programme_id)
        .first()
    )
    if row is None:
        raise NotFound(f"Programme {programme_id} inconnu.")
    return row["name"], row["funder"]


def _breakdown(
    b: Builder, section: str, prefix: str, labels: dict[str, str], found: dict[str, int]
) -> list[str]:
    """Rows for every known code (zeros too), then codes the labels do not know, then the
    records without one; returns their keys (their sum is the whole)."""
    keys = []
    codes = [*labels, *sorted(k for k in found if k and k not in labels)]
    for code in codes:
        keys.append(
            b.count(section, f"{prefix}_{code}", labels.get(code, code), found.get(code, 0))
        )
    if found.get(""):
        keys.append(b.count(section, f"{prefix}_none", "Non renseigné", found[""]))
    return keys


def _euros(cents: int) -> Decimal:
    return Decimal(cents) / 100


async def funder_report(
    programme_id: int | None,
    start: date,
    end: date,
    *,
    threshold: int | None = None,
    complementary: bool = True,
) -> FunderReport:
    """The anonymised figures of a programme (None: all) from `start` to `end` included;
    `complementary=False` only for the tests that show what it prevents."""
    check_period(start, end)
    threshold = threshold or default_threshold()
    name, funder = await programme_label(programme_id)
    n = await scalars(start, end, programme_id)
    groups = await grouped(start, end, programme_id)
    money = await memberships.report_figures(programme_id, start, end)
    b = Builder()

    b.section("workshop", "Atelier : appareils collectés et préparés (toute l'activité)")
    collected = groups["collected"]
    parts = [
        b.count(
            "workshop",
            f"collected_{kind.value}",
            f"Collectés : {DONOR_KIND_LABELS[kind.value]}",
            collected.get(kind.value, 0),
            sensitive=False,
        )
        for kind in DonorKind
    ]
    total = sum(collected.get(kind.value, 0) for kind in DonorKind)
    b.count(
        "workshop",
        "collected_total",
        "Appareils collectés",
        total,
        sensitive=False,
        role=suppression.Role.total,
        first=True,
    )
    b.relation(
        suppression.total("Appareils collectés par type de donateur", "collected_total", parts)
    )
    b.count(
        "workshop",
        "sanitized_clear",
        "Disques effacés : Clear (NIST SP 800-88)",
        n["sanitized_clear"],
        sensitive=False,
    )
    b.count(
        "workshop",
        "sanitized_purge",
        "Disques effacés : Purge (NIST SP 800-88)",
        n["sanitized_purge"],
        sensitive=False,
    )
    b.count(
        "workshop", "imaged", "Appareils installés (image vérifiée)", n["imaged"], sensitive=False
    )
    for reason in WORKSHOP_RETIREMENTS:
        label = f"Sortis du parc : {RETIREMENT_LABELS_FR[reason].lower()}"
        b.count(
            "workshop",
            f"retired_{reason.value}",
            label,
            groups["retired"].get(reason.value, 0),
            sensitive=False,
        )

    b.section("loans", "Prêts")
    b.count("loans", "loans_new", "Nouveaux prêts", n["loans_new"], role=suppression.Role.part)
    b.count(
        "loans", "devices_lent", "Appareils prêtés", n["devices_lent"], role=suppression.Role.total
    )
    # Each new loan lends at least one device; the others are unknown to the reader.
    b.hidden("devices_lent_beyond_first", n["devices_lent"] - n["loans_new"], sensitive=False)
    b.relation(
        suppression.total(
            "Appareils prêtés et nouveaux prêts",
            "devices_lent",
            ["loans_new", "devices_lent_beyond_first"],
        )
    )
    b.count(
        "loans",
        "on_loan_during",
        "Appareils en prêt pendant la période",
        n["on_loan_during"],
        role=suppression.Role.total,
    )
    b.count("loans", "loans_active_end", "Prêts en cours en fin de période", n["loans_active_end"])
    b.count("loans", "devices_returned", "Appareils rendus en fin de prêt", n["returned"])
    b.count("loans", "devices_repaired", "Appareils réparés", n["repaired"], sensitive=False)
    b.count("loans", "devices_lost", "Appareils perdus", n["lost"])
    b.count("loans", "devices_stolen", "Appareils volés", n["stolen"])
    b.ratio(
        "loans",
        "loss_rate",
        "Taux de perte ou de vol",
        ["devices_lost", "devices_stolen"],
        "on_loan_during",
        "Taux de perte : perdus et volés sur appareils en prêt",
    )

    b.section("people", "Publics touchés")
    b.count("people", "households", "Foyers équipés", n["households"], role=suppression.Role.total)
    b.count("people", "children", "Enfants dans ces foyers", n["children"])
    b.count("people", "organisations", "Organisations emprunteuses", n["organisations"])
    b.count("people", "schools", "Établissements scolaires", n["schools"])
    b.count("people", "communes", "Communes", n["communes"])
    b.hidden("qpv_households", n["qpv"], sensitive=True)
    b.ratio(
        "people",
        "qpv_share",
        "Part des foyers en QPV",
        ["qpv_households"],
        "households",
        "Part des foyers en QPV : foyers en QPV sur foyers équipés",
    )

    b.section("communes", "Foyers équipés par commune")
    by_commune = groups["communes"]
    keys = []
    for code in sorted(by_commune, key=lambda c: (c == "", -by_commune[c], c)):
        known = communes.by_insee(code) if code else None
        label = known.label if known else (f"Commune {code}" if code else "Commune non renseignée")
        keys.append(b.count("communes", f"commune_{code or 'none'}", label, by_commune[code]))
    b.relation(suppression.total("Foyers équipés par commune", "households", keys))

    b.section("sessions", "Médiation numérique")
    b.count(
        "sessions",
        "sessions_planned",
        "Séances de la période",
        n["sessions_planned"],
        role=suppression.Role.total,
    )
    statuses = [
        b.count("sessions", "sessions_done", "Séances réalisées", n["sessions_done"]),
        b.count("sessions", "sessions_missed", "Absences", n["sessions_missed"]),
        b.count("sessions", "sessions_cancelled", "Séances annulées", n["sessions_cancelled"]),
        b.count("sessions", "sessions_pending", "Séances encore prévues", n["sessions_pending"]),
    ]
    b.relation(suppression.total("Séances de la période par statut", "sessions_planned", statuses))
    hours = Decimal(n["minutes"]) / 60
    b.figure(
        "sessions", "mediation_hours", "Heures de médiation", hours, "h", follows="sessions_done"
    )

    b.section("places", "Lieux des séances réalisées")
    places = _breakdown(b, "places", "place", PLACE_LABELS, groups["places"])
    b.relation(suppression.total("Séances réalisées par type de lieu", "sessions_done", places))

    b.section("themes", "Thématiques des séances réalisées")
    ordered = sorted(groups["themes"].items(), key=lambda item: (-item[1], item[0]))
    for code, count in ordered:  # a session has one theme or more: no sum to print
        b.count("themes", f"theme_{code}", THEME_LABELS.get(code, code), count)

    b.section("autonomy", "Autonomie atteinte (séances réalisées)")
    levels = _breakdown(b, "autonomy", "autonomy", AUTONOMY_LABELS, groups["autonomy"])
    b.relation(suppression.total("Séances réalisées par autonomie", "sessions_done", levels))

    b.section("memberships", "Adhésions, cautions et cessions")
    b.count("memberships", "memberships_paid", "Adhésions payées", money.memberships_paid)
    b.count("memberships", "memberships_waived", "Adhésions offertes", money.memberships_waived)
    b.amount(
        "memberships",
        "membership_fees",
        "Cotisations encaissées (€)",
        _euros(money.membership_fees_cents),
        "€",
        per="memberships_paid",
        relation="Cotisations : montant de l'adhésion × adhésions payées",
    )
    b.count("memberships", "deposits_taken", "Cautions encaissées", money.deposits_taken)
    b.count("memberships", "deposits_refunded", "Cautions rendues", money.deposits_refunded)
    b.count("memberships", "deposits_kept", "Cautions conservées", money.deposits_kept)
    b.count("memberships", "devices_given", "Appareils donnés", money.devices_given)
    b.count("memberships", "devices_sold", "Appareils vendus", money.devices_sold)
    b.amount(
        "memberships",
        "sales",
        "Montant des ventes (€)",
        _euros(money.sales_cents),
        "€",
        per="devices_sold",
        relation="Ventes : prix × appareils vendus",
    )

    b.section("impact", "Impact environnemental (ADEME)")
    b.count(
        "impact", "laptops_lent", "Ordinateurs portables reconditionnés prêtés", n["laptops_lent"]
    )
    b.hidden("other_devices_lent", n["devices_lent"] - n["laptops_lent"], sensitive=True)
    b.relation(
        suppression.total(
            "Appareils prêtés : portables et autres",
            "devices_lent",
            ["laptops_lent", "other_devices_lent"],
        )
    )
    unit = impact.avoided(1)
    avoided = impact.avoided(n["laptops_lent"])
    for key, label, what in (
        ("co2e_avoided", "Émissions évitées (kg CO2e)", "co2e_kg"),
        ("raw_materials_avoided", "Matières premières préservées (kg)", "raw_materials_kg"),
        ("ewaste_avoided", "Déchets électroniques évités (kg)", "ewaste_kg"),
    ):
        b.amount(
            "impact",
            key,
            label,
            avoided[what],
            "kg",
            per="laptops_lent",
            factor=Fraction(unit[what]),
            relation=f"{label} : facteur ADEME × portables",
        )

    masking = suppression.suppress(b.model(), threshold, complementary=complementary)
    sections = b.sections(masking, threshold, fmt, MASKED)
    return FunderReport(
        programme=name,
        funder=funder,
        start=start,
        end=end,
        threshold=threshold,
        generated_at=now(),
        sections=sections,
        impact=impact.figures(),
        note=b.note(masking, sections),
        model=b.model(),
    )


class RowOut(msgspec.Struct):
    key: str
    label: str
    display: str
    unit: str
    masked: str = ""


class SectionOut(msgspec.Struct):
    key: str
    title: str
    rows: list[RowOut]


class FunderReportOut(msgspec.Struct):
    """The funder report as the API answers it: the same strings as every other output."""

    programme: str
    funder: str
    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    threshold: int = 0
    note: str = ""
    sections: list[SectionOut] = []
    sources: dict[str, Any] = {}


def report_out(report: FunderReport) -> FunderReportOut:
    return FunderReportOut(
        programme=report.programme,
        funder=report.funder,
        start=report.start,
        end=report.end,
        threshold=report.threshold,
        note=report.note,
        sections=[
            SectionOut(
                key=s.key,
                title=s.title,
                rows=[
                    RowOut(
                        key=r.key, label=r.label, display=r.display, unit=r.unit, masked=r.masked
                    )
                    for r in s.rows
                ],
            )
            for s in report.sections
        ],
        sources=report.impact,
    )
