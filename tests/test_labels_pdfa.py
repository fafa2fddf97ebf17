"""Archived documents are PDF/A-3b: qpdf finds no error, the XMP identifies PDF/A, an sRGB output
intent is present, every font is embedded; and no document ever reaches the network."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from labels.barcode import qr_svg
from labels.handout import HandoutData, handout_pdf
from labels.pdf import LocalFetcher, render_pdf
from labels.typeface import FONT_DIR
from tests.test_labels_scan import decode, rasterise, require_tool

CERTIFICATE = """{% extends "document.html" %}
{% block title %}Certificat d'effacement {{ number }}{% endblock %}
{% block author %}Atelier Réemploi{% endblock %}
{% block subject %}Effacement conforme à NIST SP 800-88{% endblock %}
{% block header %}Certificat d'effacement n° {{ number }}{% endblock %}
{% block content %}
<h1>Certificat d'effacement</h1>
<table>
{% for label, value in rows %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>
<p class="mono">SHA-256 : {{ digest }}</p>
<div style="width: 30mm">{{ qr | safe }}</div>
{% endblock %}
"""


VERIFY_URL = "https://atelier.example.org/verify/2026-000042"


def handout() -> bytes:
    return handout_pdf(
        HandoutData(
            tag="RE-000123-7",
            kind="laptop",
            brand="Lenovo",
            model="ThinkPad T480",
            serial="PF1ABCDE",
            cpu="Intel Core i5-8250U",
            ram_mb=8192,
            storage="SSD 256 Go",
            site_name="Atelier Nord",
            site_address="12 rue des Lilas, 59000 Lille",
            site_phone="03 20 00 00 00",
            issued_on=date(2026, 11, 23),
        )
    )


def certificate(tmp_path: Path) -> bytes:
    (tmp_path / "certificate.html").write_text(CERTIFICATE, encoding="utf-8")
    rows = [
        ("Support", "Samsung SSD 860 EVO 250 Go, n° S3YJNX0K123456"),
        ("Méthode", "Purge : ATA SANITIZE BLOCK ERASE (hdparm 9.65)"),
        ("Vérification", "Secteurs marqués relus : aucun ne garde son contenu"),
        ("Opérateur", "Élodie Œillet, station « établi 2 »"),
    ]
    return render_pdf(
        "certificate.html",
        {
            "number": "2026-000042",
            "rows": rows,
            "digest": "ab" * 32,
            "qr": qr_svg(VERIFY_URL, 30),
        },
        pdfa=True,
        search_path=[tmp_path],
    )


def qpdf_json(pdf: bytes, workdir: Path) -> dict[str, Any]:
    qpdf = require_tool("qpdf")
    source = workdir / "doc.pdf"
    source.write_bytes(pdf)
    check = subprocess.run([qpdf, "--check", source], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors found" in check.stdout
    dump = subprocess.run(
        [qpdf, "--json=2", "--json-stream-data=inline", "--decode-level=generalized", source],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(dump)


def objects(document: dict[str, Any]) -> dict[str, Any]:
    return {key.removeprefix("obj:"): value for key, value in document["qpdf"][1].items()}


def check_pdfa(pdf: bytes, workdir: Path, title: str) -> None:
    assert pdf.startswith(b"%PDF-")
    table = objects(qpdf_json(pdf, workdir))
    trailer = table["trailer"]["value"]
    assert "/Encrypt" not in trailer and len(trailer["/ID"]) == 2
    catalog = table[trailer["/Root"]]["value"]

    xmp_object = table[catalog["/Metadata"]]["stream"]
    xmp = base64.b64decode(xmp_object["data"]).decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert title in xmp

    intents = catalog["/OutputIntents"]
    intent = intents[0] if isinstance(intents, list) else table[intents]["value"][0]
    intent = table[intent]["value"] if isinstance(intent, str) else intent
    assert intent["/S"] == "/GTS_PDFA1"
    assert "/DestOutputProfile" in intent

    info = table[trailer["/Info"]]["value"]
    assert info["/Title"] == f"u:{title}"

    pdffonts = require_tool("pdffonts")
    source = workdir / "fonts.pdf"
    source.write_bytes(pdf)
    listing = subprocess.run([pdffonts, source], check=True, capture_output=True, text=True)
    fonts = listing.stdout.splitlines()[2:]
    assert fonts, "a document with text has fonts"
    for line in fonts:
        emb = line.split()[-5]
        assert emb == "yes", f"font not embedded: {line}"
        assert "Reemploi" in line, f"only the bundled fonts are used: {line}"


def test_handout_sheet_is_pdfa(tmp_path: Path) -> None:
    check_pdfa(handout(), tmp_path, "Fiche de remise RE-000123-7")


def test_certificate_like_document_is_pdfa(tmp_path: Path) -> None:
    pdf = certificate(tmp_path)
    check_pdfa(pdf, tmp_path, "Certificat d'effacement 2026-000042")
    # Its vector QR code (the public verification page) scans.
    page = rasterise(pdf, 300, tmp_path / "raster")[0]
    assert decode(page)["qr"] == [VERIFY_URL]


def test_handout_sheet_says_what_the_borrower_needs(tmp_path: Path) -> None:
    pdf = handout()
    pdftotext = require_tool("pdftotext")
    (tmp_path / "h.pdf").write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-layout", tmp_path / "h.pdf", "-"], check=True, capture_output=True, text=True
    ).stdout
    for expected in (
        "RE-000123-7",
        "ThinkPad T480",
        "PF1ABCDE",
        "8 Go",
        "Première connexion",
        "Qui appeler",
        "03 20 00 00 00",
        "Vos engagements",
    ):
        assert expected in text
    # The tag's barcode on the sheet scans too, for the return desk.
    page = rasterise(pdf, 300, tmp_path / "raster")[0]
    assert decode(page)["code128"] == ["RE-000123-7"]


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_documents_never_reach_the_network(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        (tmp_path / "remote.html").write_text(
            '{% extends "_base.html" %}{% block style %}'
            f'@import url("{url}/a.css"); @font-face {{ font-family: X; src: url("{url}/f.ttf"); }}'
            f'body {{ background: url("{url}/bg.png"); }}'
            "{% endblock %}{% block body %}"
            f'<img src="{url}/logo.png"><img src="file:///etc/hostname"><p>texte</p>'
            '<link rel="stylesheet" href="' + url + '/b.css">{% endblock %}',
            encoding="utf-8",
        )
        pdf = render_pdf("remote.html", {}, pdfa=False, search_path=[tmp_path])
    finally:
        server.shutdown()
        server.server_close()
    assert pdf.startswith(b"%PDF-")
    assert _Recorder.hits == []


def test_fetcher_serves_bundled_files_only() -> None:
    fetcher = LocalFetcher([FONT_DIR])
    response = fetcher.fetch((FONT_DIR / "DejaVuSans.ttf").resolve().as_uri())
    assert response.read(4) == b"\x00\x01\x00\x00"
    response.close()
    for url in ("file:///etc/passwd", "http://127.0.0.1/x.png", "ftp://example.org/x"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
