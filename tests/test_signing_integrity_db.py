"""The server signs only what it verified (DESIGN invariants 4 and 10), through HTTP.

A station's claimed pass that does not cover the disk, or a Purge without its evidence, is
refused with 422 and a French sentence: the record is closed failed and no certificate exists.
A stored certificate PDF is never re-rendered silently; the public key is published and the
documented openssl command checks a real certificate offline.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from piccolo.conf.apps import Finder

from inventory import config, devices
from inventory.tables import Event
from provisioning import certificates, consistency, records
from provisioning.tables import MethodType, SanitizationRecord, Status
from tests.support import new_donation, run

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parent.parent
SIZE = 256 << 20
DISK = {
    "model": "TM8FPL500G",
    "serial": "TF-0042",
    "size_bytes": SIZE,
    "manufacturer": "TeamGroup",
    "media_type": "SSD",
    "transport": "nvme",
    "rotational": False,
    "method_type": "clear",
    "verification_method": "full",
    "station": "banc-1",
    "host": "banc-1.local",
    "pid": 4242,
    "pid_start": 1,
}
CLEAR = {
    "status": "passed",
    "method_type": "clear",
    "method": "overwrite",
    "method_details": "Écrasement de chaque secteur adressable : 1 passe de zéros",
    "tool": "Réemploi effaceur 1.0 (Python 3.11.7)",
    "verification_method": "full",
    "verification_result": "passed",
    "verified_bytes": SIZE,
    "bytes_written": SIZE,
}
EVIDENCE = {
    "commands": ["nvme sanitize /dev/nvme0 --sanact=2"],
    "completion": "completed",
    "completion_source": "nvme sanitize-log",
    "completion_detail": "Sanitize Status (SSTAT) : 0x101",
    "markers": {"markers": 64, "survivors": 0, "passed": True, "zeros": 64},
}
PURGE = {
    "status": "passed",
    "method_type": "purge",
    "method": "nvme_sanitize_block_erase",
    "method_details": "NVMe Sanitize, effacement des blocs",
    "tool": "nvme version 2.4",
    "verification_method": "markers",
    "verification_result": "passed",
    "verified_bytes": 64 * consistency.MARKER_SIZE,
    "bytes_written": SIZE,
    "evidence": EVIDENCE,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def row_counts() -> dict[str, int]:
    """Rows of every table the application knows (each Piccolo app's tables)."""
    return {table._meta.tablename: run(table.count()) for table in Finder().get_table_classes()}


def open_record(client: Any, token: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """A device in `to_wipe` and a running record of its disk, opened like a station does."""
    (tag,) = run(new_donation())
    run(devices.apply_transition(tag, "triage", "test"))
    body = {**DISK, "serial": f"TF-{tag}", "tag": tag, **changes}
    opened = client.post("/api/v1/sanitization/records", json=body, headers=bearer(token))
    assert opened.status_code == 201, opened.text
    return tag, opened.json()


def finish(client: Any, token: str, record_id: int, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/sanitization/records/{record_id}/finish", json=body, headers=bearer(token)
    )


def assert_refused(
    client: Any, token: str, body: dict[str, Any], sentence: str, **start: Any
) -> None:
    """422 with the sentence; the record closed failed; one failure event and nothing else."""
    tag, record = open_record(client, token, **start)
    before = row_counts()
    answer = finish(client, token, record["id"], body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert sentence in detail and "aucun certificat" in detail.lower()
    after = row_counts()
    assert {t: n for t, n in after.items() if n != before[t]} == {"event": before["event"] + 1}
    closed = run(records.get(record["id"]))
    assert closed["status"] == Status.failed and closed["reason"] == detail
    assert closed["certificate_id"] is None and not closed["signature"] and not closed["key_id"]
    assert closed["verification_result"] == "refused"
    assert closed["notes"]["refused_claim"]["status"] == "passed"
    last = run(Event.select().order_by(Event.id, ascending=False).first().output(load_json=True))
    assert last["kind"] == "disk_sanitized" and last["payload"]["passed"] is False
    assert last["payload"]["refused"] is True and "certificate_id" not in last["payload"]
    assert (
        run(SanitizationRecord.count().where(SanitizationRecord.certificate_id.is_not_null())) == 0
    )
    assert run(Event.count().where(Event.kind == records.CERTIFICATE_ISSUED)) == 0
    assert run(devices.get_device(tag))["state"] == "to_wipe"
    # Closed: the same claim sent again (its answer lost) is refused again with the same
    # sentence, never a late certificate; another claim is a conflict.
    again = finish(client, token, record["id"], body)
    assert again.status_code == 422 and again.json()["detail"] == detail
    other = finish(client, token, record["id"], {**body, "status": "failed", "reason": "autre"})
    assert other.status_code == 409
    assert (
        run(SanitizationRecord.count().where(SanitizationRecord.certificate_id.is_not_null())) == 0
    )
    assert run(records.get(record["id"]))["status"] == Status.failed


def test_the_reproduction_purge_with_nothing_verified_is_refused(
    client: Any, tokens: dict[str, str]
) -> None:
    token = tokens["technician"]
    claim = {"status": "passed", "method_type": "purge", "verified_bytes": 0}
    assert_refused(
        client, token, claim, "La vérification n'a pas réussi",
        method_type="purge", verification_method="markers",
    )  # fmt: skip
    assert_refused(
        client, token, {**claim, "verification_result": "passed"}, "Purge sans preuve",
        method_type="purge", verification_method="markers",
    )  # fmt: skip


def test_a_sample_below_ten_percent_is_refused(client: Any, tokens: dict[str, str]) -> None:
    minimum = consistency.sample_minimum(SIZE)
    short = {**CLEAR, "verification_method": "sample", "verified_bytes": minimum - 1}
    assert_refused(
        client, tokens["technician"], short, "Échantillon trop petit", verification_method="sample"
    )
    tag, record = open_record(client, tokens["technician"], verification_method="sample")
    enough = finish(
        client, tokens["technician"], record["id"], {**short, "verified_bytes": minimum}
    )
    assert enough.status_code == 200, enough.text
    assert enough.json()["certificate_id"]


def test_a_full_verification_shorter_than_the_disk_is_refused(
    client: Any, tokens: dict[str, str]
) -> None:
    short = {**CLEAR, "verified_bytes": SIZE - 512}
    assert_refused(client, tokens["coordinator"], short, "Relecture complète incomplète")


def test_a_clear_that_did_not_write_the_whole_disk_is_refused(
    client: Any, tokens: dict[str, str]
) -> None:
    short = {**CLEAR, "bytes_written": SIZE // 2, "verified_bytes": SIZE}
    assert_refused(client, tokens["technician"], short, "Clear incomplet")


def test_the_disk_row_size_counts_too(client: Any, tokens: dict[str, str]) -> None:
    """A station that reports a smaller size for a known disk does not shrink what is covered."""
    tag, record = open_record(client, tokens["technician"])
    assert finish(client, tokens["technician"], record["id"], CLEAR).status_code == 200
    smaller = {**DISK, "serial": f"TF-{tag}", "size_bytes": SIZE // 4}
    reopened = client.post(
        "/api/v1/sanitization/records", json=smaller, headers=bearer(tokens["technician"])
    )
    assert reopened.status_code == 201, reopened.text
    answer = finish(
        client, tokens["technician"], reopened.json()["id"],
        {**CLEAR, "verified_bytes": SIZE // 4, "bytes_written": SIZE // 4},
    )  # fmt: skip
    assert answer.status_code == 422 and "Clear incomplet" in answer.json()["detail"]


def test_a_purge_without_its_evidence_is_refused(client: Any, tokens: dict[str, str]) -> None:
    start = {"method_type": "purge", "verification_method": "markers"}
    token = tokens["technician"]
    without = {k: v for k, v in PURGE.items() if k != "evidence"}
    assert_refused(client, token, without, "Purge sans preuve", **start)
    running = {**PURGE, "evidence": {**EVIDENCE, "completion": "in_progress"}}
    assert_refused(client, token, running, "n'a pas signalé la fin de la purge", **start)
    survived = {
        **PURGE,
        "evidence": {**EVIDENCE, "markers": {"markers": 64, "survivors": 3, "passed": True}},
    }
    assert_refused(client, token, survived, "ont survécu à la purge", **start)
    nothing_run = {**PURGE, "evidence": {**EVIDENCE, "commands": [" "]}}
    assert_refused(client, token, nothing_run, "Purge sans commande", **start)
    unread = {**PURGE, "verified_bytes": 0}
    assert_refused(client, token, unread, "ne couvrent pas les 64 marqueurs", **start)


def test_a_purge_with_its_evidence_is_certified_and_shows_it(
    client: Any, tokens: dict[str, str]
) -> None:
    token = tokens["technician"]
    tag, record = open_record(client, token, method_type="purge", verification_method="markers")
    answer = finish(client, token, record["id"], PURGE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "passed" and body["method_type"] == "purge"
    assert run(devices.get_device(tag))["state"] == "wiped"
    page = client.get(f"/verify/{body['certificate_id']}")
    assert "Signature valide" in page.text and "Purge" in page.text
    assert "Fin signalée par le disque" in page.text and "nvme sanitize-log" in page.text
    # The evidence is part of what is signed: changing it breaks the signature.
    signed = client.get(
        f"/verify/{body['certificate_id']}/payload.json", headers=bearer(token)
    ).content
    assert b'"purge_evidence":{' in signed and b'"survivors":0' in signed
    stored = run(records.get(record["id"]))
    notes = stored["notes"]
    notes["purge_evidence"]["markers"]["survivors"] = 1
    tamper(record["id"], notes)
    assert "Signature invalide" in client.get(f"/verify/{body['certificate_id']}").text
    notes["purge_evidence"]["markers"]["survivors"] = 0
    tamper(record["id"], notes)  # put back: the self-audit after the test finds it sound
    assert "Signature valide" in client.get(f"/verify/{body['certificate_id']}").text


def tamper(record_id: int, notes: dict[str, Any]) -> None:
    run(
        SanitizationRecord.update({SanitizationRecord.notes: notes}).where(
            SanitizationRecord.id == record_id
        )
    )


def test_a_refused_local_result_leaves_a_failure_record() -> None:
    """The service itself (the path `reemploi wipe` and the SSH wipe use), not only the API."""
    run(records.settle_abandoned())
    media = records.Media(model="M", serial="S-LOCAL", size_bytes=SIZE)
    runner = records.Runner(operator="op", station="banc")
    started = run(
        records.start(media, runner, method_type=MethodType.clear, verification_method="full")
    )
    claim = records.Outcome(
        status=Status.passed,
        method="overwrite",
        verification_method="full",
        verification_result="passed",
        verified_bytes=SIZE,
        bytes_written=0,
    )
    with pytest.raises(records.ResultRefused, match="Clear incomplet") as refused:
        run(records.finish(started["id"], claim, "op"))
    assert refused.value.record["status"] == Status.failed
    assert refused.value.record["certificate_id"] is None


def passed_clear(client: Any, token: str) -> dict[str, Any]:
    """A legitimate Clear reported by a station: certified, its PDF issued and stored."""
    _, record = open_record(client, token)
    answer = finish(client, token, record["id"], CLEAR)
    assert answer.status_code == 200, answer.text
    return run(records.get(record["id"]))


def test_a_tampered_or_missing_pdf_is_reported_never_re_rendered(
    client: Any, tokens: dict[str, str]
) -> None:
    token = tokens["technician"]
    record = passed_clear(client, token)
    digest = record["certificate_sha256"]
    assert digest
    url = f"/verify/{record['certificate_id']}"
    page = client.get(url)
    assert "Signature valide" in page.text
    assert "correspond à son empreinte SHA-256" in page.text and 'data-state="intact"' in page.text
    path = config.data_dir() / "documents" / f"{digest}.pdf"
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    page = client.get(url)
    assert "Signature valide" in page.text  # the record is intact: only the file changed
    assert "ne correspond plus à son empreinte SHA-256" in page.text
    assert 'data-state="altered"' in page.text
    download = client.get(f"{url}/pdf", headers=bearer(token))
    assert download.status_code == 409 and "n'est pas refait" in html.unescape(download.text)
    assert path.read_bytes() != original  # not silently replaced
    assert run(records.get(record["id"]))["certificate_sha256"] == digest
    assert run(Event.count().where(Event.kind == records.CERTIFICATE_ISSUED)) == 1
    path.unlink()
    page = client.get(url)
    assert "est introuvable" in page.text and 'data-state="missing"' in page.text
    assert client.get(f"{url}/pdf", headers=bearer(token)).status_code == 409
    path.write_bytes(original)  # restored from a backup: the same document again
    assert client.get(f"{url}/pdf", headers=bearer(token)).content == original


def test_the_public_key_is_published(client: Any) -> None:
    page = client.get("/verify/key")
    assert page.status_code == 200
    key_id = certificates.public_key_id()
    assert key_id in page.text and "BEGIN PUBLIC KEY" in page.text
    pem = client.get("/verify/key.pem")
    assert pem.status_code == 200 and pem.headers["content-type"].startswith(
        "application/x-pem-file"
    )
    assert f"reemploi-{key_id}.pem" in pem.headers["content-disposition"]
    public = serialization.load_pem_public_key(pem.content)
    assert certificates.key_id(public) == key_id  # type: ignore[arg-type]
    assert b"PRIVATE" not in pem.content


def documented_command() -> list[str]:
    """The openssl command exactly as docs/certificates.md gives it."""
    text = (ROOT / "docs" / "certificates.md").read_text()
    lines = re.findall(r"^openssl pkeyutl -verify .*$", text, flags=re.MULTILINE)
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def test_the_documented_openssl_command_verifies_a_real_certificate(
    client: Any, tokens: dict[str, str], tmp_path: Path
) -> None:
    record = passed_clear(client, tokens["technician"])
    certificate_id = record["certificate_id"]
    # The signed files name the donor and operator: the workshop hands them over, not the web.
    for path in ("payload.json", "signature.bin"):
        url = f"/verify/{certificate_id}/{path}"
        assert client.get(url, follow_redirects=False).status_code in (401, 303)
        assert client.get(url, headers=bearer(tokens["mediator"])).status_code == 403
    head = bearer(tokens["technician"])
    files = {
        "cle-atelier.pem": client.get("/verify/key.pem").content,
        "certificat.json": client.get(
            f"/verify/{certificate_id}/payload.json", headers=head
        ).content,
        "certificat.sig": client.get(
            f"/verify/{certificate_id}/signature.bin", headers=head
        ).content,
    }
    assert len(files["certificat.sig"]) == 64
    assert files["certificat.json"] == certificates.canonical(certificates.payload(record))
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    command = documented_command()
    for name in files:
        assert name in command, f"{name} absent de la commande documentée"
    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "Signature Verified Successfully" in good.stdout
    signed = bytearray(files["certificat.json"])
    at = signed.index(record["media_serial"].encode())
    signed[at] ^= 1  # one byte of the serial number
    (tmp_path / "certificat.json").write_bytes(bytes(signed))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Signature Verification Failure" in bad.stdout + bad.stderr


def test_the_station_wire_format_carries_the_evidence() -> None:
    """What `ApiReporter.finish` sends decodes into the API body and back to the same claim."""
    import msgspec

    claim = records.Outcome(
        status=Status.passed,
        method_type=MethodType.purge,
        method="nvme_sanitize_block_erase",
        verification_method="markers",
        verification_result="passed",
        verified_bytes=64 * consistency.MARKER_SIZE,
        evidence=consistency.PurgeEvidence.from_dict(EVIDENCE),
    )
    sent = msgspec.json.encode(msgspec.to_builtins(claim))  # the station's body
    assert msgspec.json.decode(sent, type=records.Outcome) == claim  # the API's command


def purge_with(monkeypatch: pytest.MonkeyPatch, device: str, command: list[str]) -> dict[str, Any]:
    """The engine's real Purge flow (markers, command, completion, check, record), with
    `command` standing in for the firmware's: a loop device has no firmware to ask."""
    from provisioning import discovery, job, purge

    plan = purge.PurgePlan(
        method="test_overwrite", label="Commande de test à la place du micrologiciel",
        commands=[command],
    )  # fmt: skip
    monkeypatch.setattr(job, "purge_plan", lambda identity: plan)
    runner = records.Runner(operator="op", station="banc")
    identity = discovery.identify(device)
    return run(job.run_wipe(identity, job.LocalReporter(runner), method="purge"))


@pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true", reason="loop devices need root"
)
def test_the_engine_purge_sends_its_evidence_and_is_certified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_wipe_engine import MiB, loop_device

    with loop_device(tmp_path, 8 * MiB) as device:
        erase = ["dd", "if=/dev/zero", f"of={device}", "bs=1M", "count=8", "oflag=direct"]
        record = purge_with(monkeypatch, device, erase)
        assert record["status"] == Status.passed, record["reason"]
        assert record["certificate_id"] and certificates.verify(record).valid
        evidence = record["notes"]["purge_evidence"]
        assert evidence["commands"] == [" ".join(erase)]
        assert evidence["completion"] == "completed" and "code 0" in evidence["completion_source"]
        assert evidence["markers"]["markers"] >= 2 and evidence["markers"]["survivors"] == 0
        # A command that erases nothing: the markers survive, a failure record, no certificate.
        kept = purge_with(monkeypatch, device, ["true"])
    assert kept["status"] == Status.failed and kept["certificate_id"] is None
    assert "ont survécu" in kept["reason"]
