"""Wiping, images, imaging and labels pages in real Chromium, against the real server.

Data is set up with the services (a station's heartbeats, a finished wipe, a raw image in the
inbox); every person's step is a click or a keystroke in the page.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from inventory.tags import format_tag
from provisioning import records
from provisioning.tables import MethodType, Status
from tests.browser import PASSWORD, login, requests_leaving, shoot
from tests.sshtargets import Lab, can_run
from tests.support import new_donation, run
from web.accounts import create_user

pytestmark = pytest.mark.db

DISK_SIZE = 250_059_350_016


@pytest.fixture
def open_page(db: None, server: str, browser: Any) -> Iterator[Any]:
    """A logged-in page for a new account of `role`; every context checked for outside calls."""
    contexts: list[tuple[Any, list[str]]] = []

    def opener(username: str, role: str) -> Any:
        run(create_user(username, PASSWORD, role))
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="fr-FR", accept_downloads=True
        )
        outside = requests_leaving(context, server)
        contexts.append((context, outside))
        page = context.new_page()
        login(page, server, username)
        return page

    yield opener
    for context, outside in contexts:
        context.close()
        assert not outside, f"requests left the workshop's server: {outside[:5]}"


def no_python_text(page: Any) -> None:
    html = page.content()
    for marker in ("Traceback", "Error:", "Exception", "[Errno", "<built-in"):
        assert marker not in html, f"Python text on {page.url}: {marker}"


async def to_wipe(count: int) -> list[str]:
    tags = await new_donation(count)
    for tag in tags:
        await devices.apply_transition(tag, "triage", "test")
    return tags


def media(serial: str) -> records.Media:
    return records.Media(
        model="SanDisk SDSSDH3 250G",
        serial=serial,
        size_bytes=DISK_SIZE,
        manufacturer="SanDisk",
        media_type="SSD",
        transport="sata",
    )


PASSED = records.Outcome(
    status=Status.passed,
    method_type=MethodType.clear,
    method="overwrite",
    method_details="Écrasement de chaque secteur adressable : 1 passe de zéros",
    tool="Réemploi effaceur 1.0",
    verification_method="sample",
    verification_result="passed",
    verified_bytes=DISK_SIZE // 10 + 1,
    bytes_written=DISK_SIZE,
)


def test_wiping_shows_runs_moving_and_opens_a_certificate(open_page: Any, server: str) -> None:
    running_tag, done_tag = run(to_wipe(2))
    runner = records.Runner(operator="banc", station="banc-1")
    done = run(
        records.start(
            media("DONE-0001"),
            runner,
            method_type=MethodType.clear,
            verification_method="sample",
            tag=done_tag,
        )
    )
    run(records.finish(done["id"], PASSED, "banc"))
    certified, _ = run(records.issue_pdf(done["id"], server, "banc"))
    running = run(
        records.start(
            media("RUN-0001"),
            runner,
            method_type=MethodType.clear,
            verification_method="sample",
            tag=running_tag,
        )
    )
    run(records.heartbeat(running["id"], DISK_SIZE // 10))

    page = open_page("technicienne", "technician")
    page.goto(f"{server}/wiping")
    card = page.locator(f'#running [data-record="{running["id"]}"]')
    assert running_tag in card.inner_text()
    assert card.locator('[data-field="percent_text"]').inner_text() == "10 %"
    assert "25 Go sur 250 Go" in card.inner_text()
    assert "poste banc-1" in card.inner_text()
    assert int(float(card.locator("progress").get_attribute("value"))) == 10
    row = page.locator(f'#finished tr[data-record="{done["id"]}"]')
    assert "Réussi" in row.inner_text() and "DONE-0001" in row.inner_text()
    assert "Écrasement de chaque secteur" in row.inner_text()
    assert "banc-1" in page.locator("table.list").first.inner_text()
    no_python_text(page)
    shoot(page, "wiping")

    # The station reports more progress: the bar moves without reloading the page.
    page.evaluate("() => { window.notReloaded = true; }")
    run(records.heartbeat(running["id"], DISK_SIZE * 6 // 10))
    from playwright.sync_api import expect

    expect(card.locator('[data-field="percent_text"]')).to_have_text("60 %", timeout=10_000)
    assert int(float(card.locator("progress").get_attribute("value"))) == 60
    assert page.evaluate("() => window.notReloaded === true")

    # The certificate opens from the finished record.
    row.locator("a", has_text=certified["certificate_id"]).click()
    page.wait_for_url(re.compile(r"/verify/"))
    assert certified["certificate_id"] in page.inner_text("main")
    no_python_text(page)

    # The run ends: the page shows it finished, without the person reloading.
    page.goto(f"{server}/wiping")
    run(
        records.finish(
            running["id"],
            records.Outcome(status=Status.failed, reason="Disque débranché pendant l'écriture."),
            "banc",
        )
    )
    expect(page.locator("#running")).to_contain_text("Aucun effacement en cours", timeout=10_000)
    assert "Échoué" in page.locator(f'#finished tr[data-record="{running["id"]}"]').inner_text()


def raw_file(path: Path, size: int = 8 * 2**20) -> None:
    """A small raw disk image: a few blocks of data among zeros."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset in (0, 2**20, 5 * 2**20):
            f.seek(offset)
            f.write(secrets.token_bytes(64 * 1024))


def test_images_are_listed_added_and_retired(open_page: Any, server: str) -> None:
    from provisioning.imaging import catalogue

    inbox = catalogue.inbox_dir()
    name = f"test-{secrets.token_hex(3)}.img"
    raw_file(inbox / name)
    try:
        page = open_page("technicien", "technician")
        page.goto(f"{server}/images")
        assert "Aucune image" in page.inner_text("#images")
        form = page.locator("form#add-image")
        form.locator("#file").select_option(name)
        form.locator("#name").fill("debian 12")  # a space: refused
        form.locator("#version").fill("12.8")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert "Le nom d'image compte" in page.inner_text("#images-error")
        assert page.input_value("#name") == "debian 12"
        assert page.input_value("#file") == name
        no_python_text(page)

        page.fill("#name", "debian-ecole")
        page.locator("form#add-image button[type=submit]").click()
        page.wait_for_url(f"{server}/images")
        row = page.locator('#images tr[data-image="debian-ecole"]')
        text = row.inner_text()
        assert "8,4 Mo" in text and "Proposée" in text and "aucun" in text, text
        assert "%" in text and "12.8" in text
        shoot(page, "images")

        # The same name again: refused with a sentence, nothing changes.
        page.locator("form#add-image #file").select_option(name)
        page.fill("#name", "debian-ecole")
        with page.expect_navigation():
            page.locator("form#add-image button[type=submit]").click()
        assert "s'appelle déjà debian-ecole" in page.inner_text("#images-error")
        assert page.locator("#images tbody tr").count() == 1

        page.goto(f"{server}/imaging")
        assert page.locator("#image option", has_text="debian-ecole").count() == 1

        page.goto(f"{server}/images")
        row.locator("form.retire button[type=submit]").click()
        page.wait_for_url(f"{server}/images")
        assert "Retirée" in row.inner_text()
        assert row.locator("form.retire").count() == 0
        page.goto(f"{server}/imaging")
        assert page.locator("#image option", has_text="debian-ecole").count() == 0
        no_python_text(page)
    finally:
        (inbox / name).unlink(missing_ok=True)


@contextmanager
def relay(open_socket: Any, host: str, port: int) -> Iterator[int]:
    """A port on 127.0.0.1 forwarded to `host:port` inside the lab's namespaces, so that the
    server (another process, in the root namespace) reaches the live system's sshd."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = open_socket(host, port)
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.skipif(bool(can_run()) and os.environ.get("CI") != "true", reason=str(can_run()))
def test_imaging_enrols_a_host_key_by_its_fingerprint(open_page: Any, server: str) -> None:
    import paramiko

    from provisioning.imaging import hostkeys

    wrong = hostkeys.fingerprint(paramiko.ECDSAKey.generate())
    with Lab(1) as lab, relay(lab.open_socket, lab.targets[0].host, 22) as port:
        right = hostkeys.fingerprint(hostkeys.parse_public_key(lab.targets[0].public_key_line()))
        page = open_page("coordinatrice", "coordinator")
        page.goto(f"{server}/imaging")
        form = page.locator("form#enrol-form")
        form.locator("#host").fill("127.0.0.1")
        form.locator("#port").fill(str(port))
        form.locator("#fingerprint").fill(wrong)
        form.locator("#label").fill("PC de la salle 2")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        error = page.inner_text("#imaging-error")
        assert "présente une autre empreinte" in error and "rien n'est inscrit" in error
        assert page.input_value("#fingerprint") == wrong
        assert page.input_value("#port") == str(port)
        assert page.get_attribute("#fingerprint", "aria-invalid") == "true"
        assert right not in page.inner_text("#pins")
        no_python_text(page)

        # A typo in the format: a sentence, no connection needed.
        page.fill("#fingerprint", "pas une empreinte")
        with page.expect_navigation():
            page.locator("form#enrol-form button[type=submit]").click()
        assert "Empreinte illisible" in page.inner_text("#imaging-error")

        page.fill("#fingerprint", right)
        page.locator("form#enrol-form button[type=submit]").click()
        page.wait_for_url(f"{server}/imaging")
        pins = page.inner_text("#pins")
        assert right in pins and f"127.0.0.1:{port}" in pins and "PC de la salle 2" in pins
        no_python_text(page)
        shoot(page, "imaging")


def test_imaging_refuses_an_unreachable_machine_in_words(open_page: Any, server: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    page = open_page("coordinateur", "coordinator")
    page.goto(f"{server}/imaging")
    page.fill("#host", "127.0.0.1")
    page.fill("#port", str(port))
    page.fill("#fingerprint", "SHA256:" + "A" * 43)
    with page.expect_navigation():
        page.locator("form#enrol-form button[type=submit]").click()
    assert "Aucun serveur SSH ne répond" in page.inner_text("#imaging-error")
    no_python_text(page)


def test_imaging_deploy_form_refuses_in_words(open_page: Any, server: str, tmp_path: Path) -> None:
    from provisioning.imaging import images

    raw_file(tmp_path / "raw.img")
    run(images.add_image("debian-test", tmp_path / "raw.img", actor="test"))
    page = open_page("technicien2", "technician")
    page.goto(f"{server}/imaging")
    page.fill("#targets", "pas une cible")
    with page.expect_navigation():
        page.locator("form#deploy-form button[type=submit]").click()
    assert "Cible illisible" in page.inner_text("#imaging-error")
    assert page.input_value("#targets") == "pas une cible"
    assert page.get_attribute("#targets", "aria-invalid") == "true"
    no_python_text(page)


def test_labels_errors_stay_in_the_same_tab(open_page: Any, server: str) -> None:
    (tag,) = run(new_donation(1))
    page = open_page("etiquettes", "technician")
    page.goto(f"{server}/labels")
    unknown = format_tag("RE", 999_999)
    page.fill("#tags", unknown)
    with page.expect_navigation():
        page.locator("form#labels-form button[type=submit]").click()
    assert len(page.context.pages) == 1
    assert "Aucun appareil ne porte l'étiquette" in page.inner_text("#labels-error")
    assert page.input_value("#tags") == unknown
    assert page.get_attribute("#tags", "aria-invalid") == "true"
    no_python_text(page)
    shoot(page, "labels")

    page.fill("#tags", tag)
    with page.expect_download() as download:
        page.locator("form#labels-form button[type=submit]").click()
    assert download.value.suggested_filename == "etiquettes.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
    assert len(page.context.pages) == 1
