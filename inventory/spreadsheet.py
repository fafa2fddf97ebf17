"""Reading a donation's device list from a CSV or XLSX file, with row-numbered complaints."""

from __future__ import annotations

import csv
import io
import unicodedata

from openpyxl import load_workbook

from inventory.errors import Invalid
from inventory.intake import MAX_DEVICES_PER_DONATION, DeviceSpec
from inventory.states import DeviceKind

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
HEADERS = {
    "kind": {"kind", "type", "categorie", "category"},
    "brand": {"brand", "marque", "fabricant"},
    "model": {"model", "modele"},
    "serial": {"serial", "serie", "numero de serie", "n de serie", "numero serie", "sn"},
}
KIND_ALIASES = {
    "portable": DeviceKind.laptop,
    "ordinateur portable": DeviceKind.laptop,
    "fixe": DeviceKind.desktop,
    "tour": DeviceKind.desktop,
    "ordinateur fixe": DeviceKind.desktop,
    "tout-en-un": DeviceKind.all_in_one,
    "tout en un": DeviceKind.all_in_one,
    "tablette": DeviceKind.tablet,
    "ecran": DeviceKind.screen,
    "moniteur": DeviceKind.screen,
    "station d'accueil": DeviceKind.dock,
    "autre": DeviceKind.other,
}


def _plain(text: object) -> str:
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().replace("°", "").replace(".", " ").split())


def _kind(value: object, row: int) -> str:
    text = _plain(value)
    if not text:
        return DeviceKind.laptop
    if text in DeviceKind.__members__.values():
        return text
    if text in KIND_ALIASES:
        return KIND_ALIASES[text]
    raise Invalid(f"Ligne {row} : type d'appareil inconnu « {value} ».")


def _rows(data: bytes, filename: str) -> list[list[object]]:
    if filename.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception:
            raise Invalid("Le fichier XLSX est illisible.") from None
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    if filename.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
        try:
            dialect: type[csv.Dialect] | str = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
        except csv.Error:  # one column, or nothing to go on
            dialect = "excel"
        return [list(r) for r in csv.reader(io.StringIO(text), dialect)]
    raise Invalid("Format non pris en charge : envoyez un fichier .csv ou .xlsx.")


def read_devices(data: bytes, filename: str) -> list[DeviceSpec]:
    """The devices listed in an uploaded spreadsheet (header row: type, marque, modèle, série)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid("Fichier trop volumineux (5 Mo au plus).")
    rows = [r for r in _rows(data, filename) if any(str(c or "").strip() for c in r)]
    if not rows:
        raise Invalid("Le fichier est vide.")
    columns: dict[str, int] = {}
    for index, title in enumerate(rows[0]):
        for field, names in HEADERS.items():
            if _plain(title) in names:
                columns[field] = index
    if not columns:
        raise Invalid("Première ligne attendue : type ; marque ; modèle ; numéro de série.")
    specs = []
    for number, row in enumerate(rows[1:], start=2):

        def cell(field: str, row: list[object] = row) -> str:
            index = columns.get(field)
            value = row[index] if index is not None and index < len(row) else ""
            return str(value if value is not None else "").strip()

        specs.append(
            DeviceSpec(
                kind=_kind(cell("kind"), number),
                brand=cell("brand")[:80],
                model=cell("model")[:120],
                serial=cell("serial")[:80],
            )
        )
    if not specs:
        raise Invalid("Aucun appareil sous la ligne d'en-tête.")
    if len(specs) > MAX_DEVICES_PER_DONATION:
        raise Invalid(
            f"{len(specs)} appareils : un don en compte {MAX_DEVICES_PER_DONATION} au plus."
        )
    return specs
