"""One command per wiping and labelling operation: built by code, by the command line, by the
API and by the page, refused with the same French sentence; certificate PDFs issued once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from inventory.commands import build, checked
from inventory.errors import Conflict, FieldInvalid
from inventory.tables import Event
from labels.service import LabelRequest
from provisioning import certificates, job, records
from provisioning.station import StationOptions
from provisioning.tables import MethodType, SanitizationRecord, Status
from tests.support import run
from tests.test_certificates_db import passed_record
from web.cli import main

pytestmark = pytest.mark.db

CHOOSE = "choisissez une valeur de la liste."
RUNNER = records.Runner(operator="op", station="banc-1", host="banc-1.local", pid=1, pid_start=1)


def test_a_record_start_built_by_code_is_checked(db: None) -> None:
    media = records.Media(model="M" * 200, serial="S-LONG", size_bytes=1 << 20)
    command = records.RecordStart.opening(
        media, RUNNER, method_type=MethodType.clear, verification_method="full"
    )
    with pytest.raises(FieldInvalid) as refused:
        checked(command)
    assert (
        refused.value.field == "model" and str(refused.value) == "Modèle : 120 caractères au plus."
    )
    with pytest.raises(FieldInvalid):
        run(records.start(media, RUNNER, method_type=MethodType.clear, verification_method="full"))
    assert run(SanitizationRecord.count()) == 0


def test_the_station_sends_what_the_api_decodes() -> None:
    """The station's bodies (to_builtins of the commands) decode into the same commands."""
    media = records.Media(model="SSD", serial="S1", size_bytes=1 << 30, transport="nvme")
    start = records.RecordStart.opening(
        media, RUNNER, method_type=MethodType.purge, verification_method="markers", tag=None
    )
    wire = msgspec.json.encode(msgspec.to_builtins(start))
    assert msgspec.json.decode(wire, type=records.RecordStart) == start
    assert start.media() == media and start.runner("op") == RUNNER
    outcome = records.Outcome(status=Status.failed, reason="Disque débranché.")
    wire = msgspec.json.encode(msgspec.to_builtins(outcome))
    assert msgspec.json.decode(wire, type=records.Outcome) == outcome


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (
            ["wipe", "/dev/null", "--method", "effacer"],
            f"Méthode : {CHOOSE}",
        ),
        (
            ["wipe", "/dev/null", "--verify", "tout"],
            "Relecture : choisissez une valeur de la liste.",
        ),
        (["station", "--server", "ftp://x", "--token", "t"], "Serveur : format non reconnu."),
        (
            ["station", "--server", "http://x", "--token", "t", "--method", "brûler"],
            f"Méthode : {CHOOSE}",
        ),
    ],
)
def test_the_command_line_refuses_bad_wipe_options_in_french(
    arguments: list[str], sentence: str
) -> None:
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2, result.output
    assert f"Erreur : {sentence}" in result.output


def test_the_cli_options_are_the_commands() -> None:
    with pytest.raises(FieldInvalid) as refused:
        build(job.WipeOptions, {"method": "effacer"}, strict=False)
    assert str(refused.value) == "Méthode : choisissez une valeur de la liste."
    options = build(job.WipeOptions, {"verify": "sample", "allow_loop": "true"}, strict=False)
    assert options.method == MethodType.clear and options.allow_loop
    station = build(
        StationOptions,
        {"server": "http://atelier.local:8000", "token": "t", "name": "banc-2"},
        strict=False,
    )
    assert station.method == MethodType.clear and station.wipe_present is False


def test_label_page_and_command_line_refuse_with_the_same_sentence(
    db: None, tmp_path: Path
) -> None:
    from tests.test_labels_service import client_with

    with pytest.raises(FieldInvalid) as refused:
        build(LabelRequest, {"donation": "abc", "stock": "l7160"}, strict=False)
    sentence = str(refused.value)
    assert sentence == "Numéro de don : un nombre entier est attendu."
    out = tmp_path / "x.pdf"
    result = CliRunner().invoke(
        main, ["label", "--donation", "abc", "--stock", "l7160", "--out", str(out)]
    )
    assert result.exit_code == 2 and f"Erreur : {sentence}" in result.output
    assert not out.exists()
    with client_with("technician") as client:
        page = client.get("/labels.pdf?donation=abc&stock=l7160")
    assert page.status_code == 422 and sentence in page.text
    result = CliRunner().invoke(
        main, ["label", "--tags", "RE-000001-F", "--stock", "a5", "--out", str(out)]
    )
    assert result.exit_code == 2 and "Support d'étiquettes inconnu" in result.output


def test_two_concurrent_issuers_get_one_certificate_pdf(db: None) -> None:
    record = passed_record()

    async def both() -> list[tuple[dict, bytes]]:
        return list(
            await asyncio.gather(
                records.issue_pdf(record["id"], "http://x", "op"),
                records.issue_pdf(record["id"], "http://x", "op"),
            )
        )

    (first, pdf_a), (second, pdf_b) = run(both())
    assert pdf_a == pdf_b and pdf_a.startswith(b"%PDF")
    digest = first["certificate_sha256"]
    assert digest == second["certificate_sha256"] == certificates.store_pdf(pdf_a)[0]
    assert run(Event.count().where(Event.kind == records.CERTIFICATE_ISSUED)) == 1
    folder = certificates.pdf_path(digest).parent
    assert [p.name for p in folder.iterdir() if p.suffix == ".pdf"] == [f"{digest}.pdf"]


@pytest.mark.breaks_invariants
def test_a_record_altered_before_its_pdf_gets_no_pdf(db: None) -> None:
    record = passed_record()
    run(
        SanitizationRecord.update({SanitizationRecord.media_serial: "AUTRE"}).where(
            SanitizationRecord.id == record["id"]
        )
    )
    with pytest.raises(Conflict) as refused:
        run(records.issue_pdf(record["id"], "http://x", "op"))
    assert "Signature invalide" in str(refused.value)
    assert run(records.get(record["id"]))["certificate_sha256"] == ""
    assert run(Event.count().where(Event.kind == records.CERTIFICATE_ISSUED)) == 0
