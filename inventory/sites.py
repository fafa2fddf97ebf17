"""Sites: the association's places, with what the national map of digital mediation asks of them.

`SiteIn` opens a site or rewrites its whole description; `check_site` reads what people
type (French phone numbers, OSM opening hours, e-mails, addresses of web pages) and refuses a bad
field with a French sentence before anything is written.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

import msgspec

from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.errors import FieldInvalid, Invalid, NotFound
from inventory.site_vocabulary import (
    AccessMode,
    Fee,
    Label,
    NationalProgramme,
    Public,
    Roaming,
    Service,
    SpecificSupport,
    SupportMode,
    Typology,
)
from inventory.tables import Site

Text = Annotated[str, msgspec.Meta(max_length=2000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Url = Annotated[str, msgspec.Meta(max_length=500)]
SEPARATOR = "|"  # the schema's separator of several values in one cell

_EMAIL = re.compile(r"^[^@\s|;,]+@[^@\s|;,]+\.[^@\s|;,.]+$")
_URL = re.compile(r"^https?://[^\s/|]+\.[^\s/|]+(/[^\s|]*)?$")
_POSTAL = re.compile(r"^\d{5}$")
_INSEE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
_SIRET = re.compile(r"^(\d{14}|W\d{9})$")
_PHONE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)\d{6,9}$")

# OpenStreetMap opening_hours, the part a place's week needs: months, weekdays, public
# holidays, time spans, "off", and "24/7" (https://wiki.openstreetmap.org/wiki/Key:opening_hours).
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAYS = rf"(?:{_DAY}(?:-{_DAY})?(?:\[[1-5](?:,[1-5])*\])?|PH|SH)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_MONTHS = rf"(?:{_MONTH}(?: \d{{1,2}})?(?:-{_MONTH}(?: \d{{1,2}})?)?)"
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_RULE = re.compile(
    rf"^(?:{_MONTHS}(?:,{_MONTHS})* )?"
    rf"(?:(?:{_DAYS}(?:,{_DAYS})*)(?: |$))?"
    rf"(?:{_TIME}-{_TIME}(?:,{_TIME}-{_TIME})*|off|closed)?"
    r'(?: "[^"]*")?$'
)


def opening_hours_problem(text: str) -> str | None:
    """Why `text` is not OSM opening_hours (the subset a place's week needs), or None."""
    if text == "24/7":
        return None
    for rule in re.split(r"\s*(?:;|\|\|)\s*", text):
        if not rule or not _RULE.match(rule):
            return (
                f"« {rule} » ne suit pas le format OpenStreetMap (par exemple "
                "« Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00; PH off »)."
            )
        for start, end in re.findall(rf"({_TIME})-({_TIME})", rule):
            if start == end:
                return f"« {start}-{end} » : l'heure de fin doit différer de l'heure de début."
            if start.startswith("24"):
                return f"« {start} » : une plage commence au plus tard à 23:59."
    return None


def phone_international(text: str) -> str | None:
    """A French number as the schema writes it (+33 then 9 digits, no spaces), or None."""
    digits = re.sub(r"[\s.\-()]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        digits = "+33" + digits[1:]
    return digits if _PHONE.match(digits) else None


class SiteIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Open a site (a workshop or a place where devices are kept) and describe it as the
    national map of digital mediation lists places; only the name is required."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]  # site.name is varchar(120)
    address: Text = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address_complement: Short = ""
    postal_code: Annotated[str, msgspec.Meta(max_length=5)] = ""
    commune: Annotated[str, msgspec.Meta(max_length=160)] = ""
    insee_code: Annotated[str, msgspec.Meta(max_length=5)] = ""
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    siret: Annotated[str, msgspec.Meta(max_length=14)] = ""
    typology: Annotated[list[Typology], msgspec.Meta(max_length=12)] = []
    emails: Annotated[list[Short], msgspec.Meta(max_length=5)] = []
    websites: Annotated[list[Url], msgspec.Meta(max_length=5)] = []
    opening_hours: Annotated[str, msgspec.Meta(max_length=500)] = ""
    summary: Annotated[str, msgspec.Meta(max_length=280)] = ""
    description: Text = ""
    roaming: Annotated[list[Roaming], msgspec.Meta(max_length=2)] = []
    parent_structure: Short = ""
    services: Annotated[list[Service], msgspec.Meta(max_length=9)] = []
    publics: Annotated[list[Public], msgspec.Meta(max_length=5)] = []
    specific_support: Annotated[list[SpecificSupport], msgspec.Meta(max_length=7)] = []
    fees: Annotated[list[Fee], msgspec.Meta(max_length=3)] = []
    national_programmes: Annotated[list[NationalProgramme], msgspec.Meta(max_length=11)] = []
    labels: Annotated[list[Label], msgspec.Meta(max_length=10)] = []
    other_labels: Short = ""
    access_modes: Annotated[list[AccessMode], msgspec.Meta(max_length=6)] = []
    support_modes: Annotated[list[SupportMode], msgspec.Meta(max_length=4)] = []
    accessibility_url: Url = ""
    booking_url: Url = ""

    field_labels: ClassVar[dict[str, str]] = {
        "name": "Nom du site",
        "address": "Adresse",
        "phone": "Téléphone",
        "address_complement": "Complément d'adresse",
        "postal_code": "Code postal",
        "commune": "Commune",
        "insee_code": "Code INSEE",
        "latitude": "Latitude",
        "longitude": "Longitude",
        "siret": "SIRET ou RNA",
        "typology": "Typologie",
        "emails": "Courriels",
        "websites": "Sites web",
        "opening_hours": "Horaires",
        "summary": "Présentation résumée",
        "description": "Présentation détaillée",
        "roaming": "Itinérance",
        "parent_structure": "Structure parente",
        "services": "Services",
        "publics": "Publics spécifiquement adressés",
        "specific_support": "Prise en charge spécifique",
        "fees": "Frais à charge",
        "national_programmes": "Dispositifs et programmes nationaux",
        "labels": "Formations et labels",
        "other_labels": "Autres formations et labels",
        "access_modes": "Modalités d'accès",
        "support_modes": "Modalités d'accompagnement",
        "accessibility_url": "Fiche Accès libre",
        "booking_url": "Prise de rendez-vous",
    }


LIST_FIELDS = (
    "typology",
    "emails",
    "websites",
    "roaming",
    "services",
    "publics",
    "specific_support",
    "fees",
    "national_programmes",
    "labels",
    "access_modes",
    "support_modes",
)
PLAIN_FIELDS = tuple(f for f in SiteIn.__struct_fields__ if f not in LIST_FIELDS)


def _field(field: str, sentence: str) -> FieldInvalid:
    return FieldInvalid(field, f"{SiteIn.field_labels[field]} : {sentence}")


def check_site(data: SiteIn) -> SiteIn:
    """The site as it will be stored (trimmed; the phone kept as typed, as labels print it, and
    turned international only in the export), or FieldInvalid with a French sentence."""
    data = checked(data)
    trimmed = {
        f: getattr(data, f).strip() if isinstance(getattr(data, f), str) else getattr(data, f)
        for f in PLAIN_FIELDS
    }
    trimmed["insee_code"] = trimmed["insee_code"].upper()
    trimmed["siret"] = trimmed["siret"].replace(" ", "").upper()
    lists = {
        f: list(dict.fromkeys(v.strip() for v in getattr(data, f) if v.strip()))
        for f in LIST_FIELDS
    }
    if trimmed["postal_code"] and not _POSTAL.match(trimmed["postal_code"]):
        raise _field("postal_code", "cinq chiffres, par exemple 69003.")
    if trimmed["insee_code"] and not _INSEE.match(trimmed["insee_code"]):
        raise _field(
            "insee_code", "cinq caractères, le code officiel de la commune (69383, 2A004…)."
        )
    if trimmed["siret"] and not _SIRET.match(trimmed["siret"]):
        raise _field("siret", "14 chiffres (SIRET) ou W suivi de 9 chiffres (RNA).")
    if trimmed["phone"]:
        if phone_international(trimmed["phone"]) is None:
            raise _field("phone", "un numéro français, par exemple 04 72 10 20 30 ou +33472102030.")
    if (trimmed["latitude"] is None) != (trimmed["longitude"] is None):
        raise _field("latitude", "indiquez la latitude et la longitude, ou aucune des deux.")
    for email in lists["emails"]:
        if not _EMAIL.match(email):
            raise _field("emails", f"« {email} » n'est pas une adresse électronique.")
    for url in lists["websites"]:
        if not _URL.match(url):
            raise _field("websites", f"« {url} » n'est pas une adresse web (https://…).")
    for field in ("accessibility_url", "booking_url"):
        if trimmed[field] and not _URL.match(trimmed[field]):
            raise _field(field, f"« {trimmed[field]} » n'est pas une adresse web (https://…).")
    if trimmed["opening_hours"]:
        problem = opening_hours_problem(trimmed["opening_hours"])
        if problem:
            raise _field("opening_hours", problem)
    if not trimmed["name"]:
        raise _field("name", "champ obligatoire.")
    return msgspec.structs.replace(data, **trimmed, **lists)


class SiteOut(SiteIn, kw_only=True, frozen=True):
    """A site as stored: its description, its number, and when the description last changed."""

    id: int
    archived: bool = False
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SiteOut:
        values: dict[str, Any] = {f: row.get(f) or "" for f in PLAIN_FIELDS}
        values["latitude"], values["longitude"] = row.get("latitude"), row.get("longitude")
        values |= {f: split(row.get(f, "")) for f in LIST_FIELDS}
        stamp = row.get("updated_at")
        return cls(
            **values,
            id=row["id"],
            archived=row.get("archived_at") is not None,
            updated_at=stamp.isoformat() if stamp is not None else "",
        )


def split(cell: str | None) -> list[Any]:
    """The values a stored cell joins with the schema's separator."""
    return [v for v in (cell or "").split(SEPARATOR) if v]


def _columns(data: SiteIn) -> dict[Any, Any]:
    values: dict[Any, Any] = {getattr(Site, f): getattr(data, f) for f in PLAIN_FIELDS}
    values |= {getattr(Site, f): SEPARATOR.join(getattr(data, f)) for f in LIST_FIELDS}
    return values | {Site.updated_at: now()}


async def add_site(data: SiteIn) -> SiteOut:
    """A new site; its name is unique."""
    data = check_site(data)
    async with write_transaction(Site):
        if await Site.exists().where(Site.name == data.name):
            raise Invalid(f"Le site « {data.name} » existe déjà.")
        row = Site(**{column._meta.name: v for column, v in _columns(data).items()})
        rows = await Site.insert(row).returning(*Site.all_columns())
    return SiteOut.from_row(rows[0])


async def update_site(site_id: int, data: SiteIn) -> SiteOut:
    """Rewrite a site's description; its name stays unique."""
    data = check_site(data)
    async with write_transaction(Site):
        if not await Site.exists().where(Site.id == site_id):
            raise NotFound(f"Site {site_id} inconnu.")
        if await Site.exists().where((Site.name == data.name) & (Site.id != site_id)):
            raise Invalid(f"Le site « {data.name} » existe déjà.")
        rows = (
            await Site.update(_columns(data))
            .where(Site.id == site_id)
            .returning(*Site.all_columns())
        )
    return SiteOut.from_row(rows[0])


async def get_site(site_id: int) -> SiteOut:
    row = await Site.select().where(Site.id == site_id).first()
    if row is None:
        raise NotFound(f"Site {site_id} inconnu.")
    return SiteOut.from_row(row)


async def create_site(name: str, address: str = "", phone: str = "", **more: Any) -> dict[str, Any]:
    """`add_site` for code that names the fields (tests, demo): the row as a dict."""
    values = {"name": name, "address": address, "phone": phone} | more
    site = await add_site(msgspec.convert(values, SiteIn))
    return msgspec.structs.asdict(site) | {"archived_at": None}


async def list_sites(include_archived: bool = False) -> list[SiteOut]:
    """Sites that take new work, by name; `include_archived` lists the archived ones too."""
    query = Site.select().order_by(Site.name)
    if not include_archived:
        query = query.where(Site.archived_at.is_null())
    return [SiteOut.from_row(r) for r in await query]
