"""Reading a donation's device list from CSV and XLSX files."""

from __future__ import annotations

import io

import openpyxl
import pytest

from inventory.errors import Invalid
from inventory.spreadsheet import read_devices


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_french_headers() -> None:
    data = xlsx(
        [
            ["Type", "Marque", "Modèle", "N° de série"],
            ["Portable", "HP", "840 G5", 5123],
            [None] * 4,
        ]
    )
    (spec,) = read_devices(data, "lot.xlsx")
    assert (spec.kind, spec.brand, spec.model, spec.serial) == ("laptop", "HP", "840 G5", "5123")


def test_csv_with_semicolons_and_windows_encoding() -> None:
    text = "type;marque;modèle;série\nécran;Dell;P2219H;CN0ABC\ntour;Lenovo;M720;PC1\n"
    specs = read_devices(text.encode("cp1252"), "LOT.CSV")
    assert [(s.kind, s.serial) for s in specs] == [("screen", "CN0ABC"), ("desktop", "PC1")]


def test_csv_in_english_with_a_byte_order_mark() -> None:
    text = "\ufeffkind,brand,model,serial\nlaptop,Dell,5490,X1\n"
    assert read_devices(text.encode("utf-8"), "a.csv")[0].model == "5490"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "vide"),
        (b"foo,bar\n1,2\n", "a.csv", "Première ligne"),
        (b"type\n", "a.csv", "Aucun appareil"),
        (b"type,marque\ngrille-pain,X\n", "a.csv", "Ligne 2 : type d'appareil inconnu"),
        (b"not a workbook", "a.xlsx", "illisible"),
        (b"anything", "a.ods", "Format non pris en charge"),
        (b"x" * (5 * 1024 * 1024 + 1), "a.csv", "trop volumineux"),
    ],
)
def test_bad_files_say_what_is_wrong(data: bytes, name: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        read_devices(data, name)
