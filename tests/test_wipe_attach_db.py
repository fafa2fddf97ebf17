"""Records that find their device: disk matching, attaching by tag, a finish sent twice.

Through the station API (what a bench station and a technician's scanner call) and the
services; the browser path is in test_browser_wipe_attach.py.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import pytest

from inventory import devices
from inventory.tables import Disk, Event
from provisioning import certificates, records
from provisioning.station import ApiError, ApiReporter
from provisioning.tables import MethodType, SanitizationRecord, Status
from tests.support import new_donation, run
from tests.test_certificates_db import app_client, bearer  # noqa: F401 (fixture)
from tests.test_station_api_db import DISK, PASSED

pytestmark = pytest.mark.db


def _misread(tag: str) -> str:
    """The tag with a wrong check character (what a smudged label scans as)."""
    last = tag[-1]
    return tag[:-1] + ("A" if last != "A" else "B")


def _station_wipe(client: Any, head: dict[str, str], serial: str, tag: str | None = None) -> dict:
    body = {**DISK, "serial": serial, "station": "banc-chaud"}
    if tag:
        body["tag"] = tag
    opened = client.post("/api/v1/sanitization/records", json=body, headers=head)
    assert opened.status_code == 201, opened.text
    done = client.post(
        f"/api/v1/sanitization/records/{opened.json()['id']}/finish", json=PASSED, headers=head
    )
    assert done.status_code == 200, done.text
    return done.json()


def _to_wipe(count: int = 1) -> list[str]:
    tags = run(new_donation(count))
    for tag in tags:
        run(devices.apply_transition(tag, "triage", "test"))
    return tags


def test_a_hot_plug_record_is_attached_by_its_tag(app_client: Any, tokens: dict[str, str]) -> None:  # noqa: F811
    head = bearer(tokens["technician"])
    [tag, other] = _to_wipe(2)
    loose = _station_wipe(app_client, head, "HOTPLUG-01")
    assert loose["device_id"] is None and loose["asset_tag"] == "" and loose["certificate_id"]
    before = run(records.get(loose["id"]))
    url = "/api/v1/sanitization/attachments"

    # A misread tag (wrong check character) is refused with a sentence; nothing changes.
    misread = app_client.post(
        url, json={"record_id": loose["id"], "asset_tag": _misread(tag)}, headers=head
    )
    assert misread.status_code == 422, misread.text
    assert "caractère de contrôle" in misread.json()["detail"] or "mal lue" in misread.text
    assert run(records.get(loose["id"]))["device"] is None

    done = app_client.post(url, json={"record_id": loose["id"], "asset_tag": tag}, headers=head)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["asset_tag"] == tag and body["device_id"] is not None
    assert body["certificate_id"] == loose["certificate_id"]
    record = run(records.get(loose["id"]))
    # Signed again over the device's tag; the first PDF is kept, a new one names the device.
    assert certificates.verify(record).valid
    assert (
        record["certificate_sha256"]
        and record["certificate_sha256"] != before["certificate_sha256"]
    )
    assert record["notes"]["superseded_pdfs"] == [before["certificate_sha256"]]
    assert certificates.payload(record)["media"]["asset_tag"] == tag
    # The disk joined the device, the pass counts: the device is wiped, with its events.
    device = run(devices.get_device(tag))
    assert device["state"] == "wiped"
    [disk] = run(devices.device_disks(device["id"]))
    assert disk["id"] == record["disk"]
    kinds = [e["kind"] for e in run(devices.device_events(device["id"]))]
    assert kinds[-4:] == [
        "sanitization_attached",
        "disk_sanitized",
        "wipe_passed",
        "certificate_issued",  # the certificate laid out again, naming the device
    ]
    # The certificate's public page and the device card name the device.
    page = app_client.get(f"/verify/{record['certificate_id']}")
    assert page.status_code == 200 and "Signature valide" in page.text

    # Again to the same device: the same answer, nothing written twice.
    again = app_client.post(url, json={"record_id": loose["id"], "asset_tag": tag}, headers=head)
    assert again.status_code == 200 and again.json()["id"] == loose["id"]
    assert [e["kind"] for e in run(devices.device_events(device["id"]))] == kinds
    # To another device: 409.
    moved = app_client.post(url, json={"record_id": loose["id"], "asset_tag": other}, headers=head)
    assert moved.status_code == 409 and "déjà rattaché" in moved.json()["detail"]

    # A second loose record of the same disk (wiped again on the bench) goes to its device
    # only: its disk belongs to `tag`, so attaching it to `other` is refused.
    second = _station_wipe(app_client, head, "HOTPLUG-01")
    assert second["device_id"] is not None  # the disk is known: the record follows it
    third = _station_wipe(app_client, head, "HOTPLUG-02")
    run(
        Disk.update({Disk.device: device["id"]}).where(
            Disk.id == run(records.get(third["id"]))["disk"]
        )
    )
    refused = app_client.post(
        url, json={"record_id": third["id"], "asset_tag": other}, headers=head
    )
    assert refused.status_code == 409 and f"appartient à l'appareil {tag}" in refused.text
    # Unknown fields or a missing tag: refused as the command says.
    bad = app_client.post(url, json={"record_id": third["id"]}, headers=head)
    assert bad.status_code in (400, 422)
    assert app_client.post(
        url, json={"record_id": third["id"], "asset_tag": other}, headers=bearer(tokens["mediator"])
    ).status_code in (401, 403)


def test_a_failed_record_attaches_without_counting(app_client: Any, tokens: dict[str, str]) -> None:  # noqa: F811
    head = bearer(tokens["technician"])
    [tag] = _to_wipe()
    opened = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "serial": "FAIL-01"}, headers=head
    ).json()
    failed = {"status": "failed", "reason": "secteurs illisibles", "method_type": "clear"}
    closed = app_client.post(
        f"/api/v1/sanitization/records/{opened['id']}/finish", json=failed, headers=head
    )
    assert closed.status_code == 200 and closed.json()["status"] == "failed"
    done = app_client.post(
        "/api/v1/sanitization/attachments",
        json={"record_id": opened["id"], "asset_tag": tag},
        headers=head,
    )
    assert done.status_code == 200, done.text
    device = run(devices.get_device(tag))
    assert device["state"] == "to_wipe"
    events = run(devices.device_events(device["id"]))
    assert (
        events[-1]["kind"] == "sanitization_attached" and events[-1]["payload"]["counts"] is False
    )


def test_bench_then_ssh_identity_is_one_disk(db: None) -> None:
    """The SSH path sees a loop disk without model or serial: the bench's row is found by
    model and size within the device, never a second row; the record keeps what was known."""
    [tag] = _to_wipe()
    runner = records.Runner(operator="banc", station="banc-1")
    bench = records.Media(model="Loop (fichier image)", serial="disk.img#1234", size_bytes=64 << 20)
    outcome = records.Outcome(
        status=Status.passed,
        method="overwrite",
        verification_method="full",
        verification_result="passed",
        verified_bytes=64 << 20,
        bytes_written=64 << 20,
    )
    first = run(
        records.start(
            bench, runner, method_type=MethodType.clear, verification_method="full", tag=tag
        )
    )
    run(records.finish(first["id"], outcome, "banc"))
    assert run(devices.get_device(tag))["state"] == "wiped"
    run(devices.apply_transition(tag, "rewipe", "test"))
    seen = records.Media(model="", serial="", size_bytes=64 << 20)
    ssh = records.Runner(operator="test", station="root@10.0.0.2:22")
    second = run(
        records.start(seen, ssh, method_type=MethodType.clear, verification_method="full", tag=tag)
    )
    assert second["disk"] == first["disk"]
    assert (
        second["media_model"] == "Loop (fichier image)"
        and second["media_serial"] == "disk.img#1234"
    )
    run(records.finish(second["id"], outcome, "test"))
    device = run(devices.get_device(tag))
    assert device["state"] == "wiped"
    assert len(run(devices.device_disks(device["id"]))) == 1
    # A disk of another size in the same device is another disk; two alike stay apart.
    other = records.Media(model="", serial="", size_bytes=128 << 20)
    run(devices.apply_transition(tag, "rewipe", "test"))
    third = run(
        records.start(other, ssh, method_type=MethodType.clear, verification_method="full", tag=tag)
    )
    assert third["disk"] != first["disk"]
    run(records.finish(third["id"], records.Outcome(status=Status.interrupted), "test"))


class _LosingProxy:
    """A TCP proxy that forwards each request to the server, then closes the connection before
    the answer reaches the client, `losses` times: the finish ran, its answer was lost."""

    def __init__(self, upstream: tuple[str, int], losses: int) -> None:
        self.upstream, self.losses = upstream, losses
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lost = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            request = b""
            while b"\r\n\r\n" not in request:
                request += client.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += client.recv(65536)
            server.sendall(head + b"\r\n\r\n" + body)
            answer = server.recv(65536)
            while answer and b"\r\n\r\n" not in answer:
                answer += server.recv(65536)
            if self.lost < self.losses:
                self.lost += 1
                return  # the server answered; the client never hears it
            client.sendall(answer)
            while chunk := server.recv(65536):
                client.sendall(chunk)

    def close(self) -> None:
        self.listener.close()


def test_a_finish_whose_answer_is_lost_is_retried_to_one_certificate(
    db: None, tokens: dict[str, str], server: str
) -> None:
    [tag] = _to_wipe()
    host, port = httpx.URL(server).host, httpx.URL(server).port
    assert port is not None
    proxy = _LosingProxy((host, port), losses=2)
    try:
        runner = records.Runner(operator="station:banc-9", station="banc-9")
        direct = ApiReporter(server, tokens["technician"], runner)
        media = records.Media(**{k: DISK[k] for k in records.Media.__struct_fields__})
        record = run(direct.start(media, MethodType.clear, "sample", tag))
        outcome = records.Outcome(**PASSED)  # type: ignore[arg-type]
        lossy = ApiReporter(f"http://127.0.0.1:{proxy.port}", tokens["technician"], runner)
        closed = run(lossy.finish(record["id"], outcome))
        assert proxy.lost == 2  # two answers lost, the third came back
        assert closed["status"] == "passed" and closed["certificate_id"]
        # Without retries the same loss is an error the station shows (no silent success).
        proxy.lost, proxy.losses = 0, 1
        impatient = ApiReporter(
            f"http://127.0.0.1:{proxy.port}", tokens["technician"], runner, retry_for=0
        )
        with pytest.raises(ApiError, match="injoignable"):
            run(impatient.finish(record["id"], outcome))
    finally:
        proxy.close()
    [row] = run(SanitizationRecord.select().where(SanitizationRecord.asset_tag == tag))
    assert row["status"] == "passed" and row["certificate_id"] == closed["certificate_id"]
    device = run(devices.get_device(tag))
    assert device["state"] == "wiped"
    events = run(Event.select().where(Event.device == device["id"]))
    assert [e["kind"] for e in events].count("certificate_issued") == 1
    assert [e["kind"] for e in events].count("disk_sanitized") == 1


def test_a_repeated_finish_answers_the_first_result(
    app_client: Any,  # noqa: F811
    tokens: dict[str, str],
) -> None:
    head = bearer(tokens["technician"])
    [tag] = _to_wipe()
    opened = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "tag": tag}, headers=head
    ).json()
    url = f"/api/v1/sanitization/records/{opened['id']}/finish"
    first = app_client.post(url, json=PASSED, headers=head)
    second = app_client.post(url, json=PASSED, headers=head)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    # Another result for a closed record is a conflict, not a second closing.
    other = app_client.post(url, json={**PASSED, "verified_bytes": 1 << 40}, headers=head)
    assert other.status_code == 409
    # A refused pass sent twice is refused twice, with the same reason.
    opened = app_client.post(
        "/api/v1/sanitization/records", json={**DISK, "serial": "X-2"}, headers=head
    ).json()
    url = f"/api/v1/sanitization/records/{opened['id']}/finish"
    cheat = {**PASSED, "verified_bytes": 10}
    once = app_client.post(url, json=cheat, headers=head)
    twice = app_client.post(url, json=cheat, headers=head)
    assert once.status_code == twice.status_code == 422
    assert once.json()["detail"] == twice.json()["detail"]
    rows = run(SanitizationRecord.select().where(SanitizationRecord.asset_tag == tag))
    assert len(rows) == 1 and rows[0]["certificate_sha256"]
