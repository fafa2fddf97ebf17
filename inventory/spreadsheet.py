"""Reading a donation's device list from a CSV or XLSX file, with row-numbered complaints."""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator

from openpyxl import load_workbook

from inventory.errors import Invalid
from inventory.intake import MAX_DEVICES_PER_DONATION, DeviceSpec
from inventory.kinds import parse_kind

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# A 2000-device sheet expands to about 1 MB of XML; more is a compression bomb.
MAX_XLSX_EXPANDED_BYTES = 10_000_000
# Sheet rows read, blank ones included (a donation has at most 2000 devices, plus a header).
MAX_SHEET_ROWS = 5000
MAX_COLUMNS = 50  # cells further right are not read
MAX_CELL_CHARS = 1000
HEADERS = {
    "kind": {"kind", "type", "categorie", "category"},
    "brand": {"brand", "marque", "fabricant"},
    "model": {"model", "modele"},
    "serial": {"serial", "serie", "numero de serie", "n de serie", "numero serie", "sn"},
}


def _plain(text: object) -> str:
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().replace("°", "").replace(".", " ").split())


def _kind(value: object, row: int) -> str:
    return parse_kind(value, f"Ligne {row} : ")


def _cells(row: Iterable[object], number: int) -> list[object]:
    """The row's first MAX_COLUMNS cells; a cell longer than MAX_CELL_CHARS refuses the file."""
    cells = list(itertools.islice(row, MAX_COLUMNS))
    for value in cells:
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise Invalid(
                f"Ligne {number} : une cellule dépasse {MAX_CELL_CHARS} caractères "
                "(c'est la limite d'une cellule)."
            )
    return cells


def _xlsx_rows(data: bytes) -> Iterator[Iterable[object]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        # The declared sizes bind: zipfile stops reading a member at its declared size.
        expanded = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise Invalid("Le fichier XLSX est illisible.") from None
    if expanded > MAX_XLSX_EXPANDED_BYTES:
        raise Invalid(
            f"Classeur XLSX trop gros une fois décompressé ({expanded // 1_000_000} Mo) : "
            f"{MAX_XLSX_EXPANDED_BYTES // 1_000_000} Mo au plus."
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise Invalid("Le fichier XLSX est illisible.") from None
    try:
        # Read-only mode streams rows from the sheet's XML and max_col cuts each row; a sheet
        # without <dimension> has no known end, so _filled_rows stops the pass itself.
        sheet = book.active
        if sheet is None:
            raise Invalid("Le fichier XLSX n'a pas de feuille.")
        yield from sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    except Exception:
        raise Invalid("Le fichier XLSX est illisible.") from None
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[Iterable[object]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    try:
        dialect: type[csv.Dialect] | str = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:  # one column, or nothing to go on
        dialect = "excel"
    try:
        yield from csv.reader(io.StringIO(text), dialect)
    except csv.Error:  # a field over csv's own size limit, a NUL byte…
        raise Invalid(
            f"Le fichier CSV est illisible (une cellule dépasse-t-elle {MAX_CELL_CHARS} "
            "caractères ?)."
        ) from None


def _rows(data: bytes, filename: str) -> Iterator[Iterable[object]]:
    if filename.lower().endswith(".xlsx"):
        return _xlsx_rows(data)
    if filename.lower().endswith(".csv"):
        return _csv_rows(data)
    raise Invalid("Format non pris en charge : envoyez un fichier .csv ou .xlsx.")


def _filled_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[object]]]:
    """Non-empty rows with their sheet row number; the pass stops at the row limits."""
    rows = _rows(data, filename)
    filled = 0
    for number, row in enumerate(rows, start=1):
        if number > MAX_SHEET_ROWS:
            raise Invalid(
                f"Le tableur dépasse {MAX_SHEET_ROWS} lignes (lignes vides comprises) : "
                f"un don compte {MAX_DEVICES_PER_DONATION} appareils au plus."
            )
        cells = _cells(row, number)
        if not any(str(c if c is not None else "").strip() for c in cells):
            continue
        filled += 1
        if filled > MAX_DEVICES_PER_DONATION + 1:  # the header row, then the devices
            raise Invalid(
                f"Plus de {MAX_DEVICES_PER_DONATION} appareils : "
                f"un don en compte {MAX_DEVICES_PER_DONATION} au plus."
            )
        yield number, cells


def read_devices(data: bytes, filename: str) -> list[DeviceSpec]:
    """The devices listed in an uploaded spreadsheet (header row: type, marque, modèle, série).

    Rows are streamed and the pass stops at the limits, so a crafted file costs little; callers
    on the event loop run this in a worker thread.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid("Fichier trop volumineux (5 Mo au plus).")
    rows = _filled_rows(data, filename)
    header = next(rows, None)
    if header is None:
        raise Invalid("Le fichier est vide.")
    columns: dict[str, int] = {}
    for index, title in enumerate(header[1]):
        for field, names in HEADERS.items():
            if _plain(title) in names:
                columns[field] = index
    if not columns:
        raise Invalid("Première ligne attendue : type ; marque ; modèle ; numéro de série.")
    specs = []
    for number, row in rows:

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
    return specs
