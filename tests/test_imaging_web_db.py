"""Imaging over the API and the page: images, host keys, a deployment started from the web."""

from __future__ import annotations

import html
import os
import time
from typing import Any

import pytest

from tests.imaging_workers import worker_thread
from tests.sshtargets import Lab, can_run
from tests.support import run
from tests.test_imaging_deploy_db import add_image, raw_image, wiped_devices  # noqa: F401

pytestmark = pytest.mark.db


@pytest.fixture
def web(db: None, tokens: dict[str, str]):
    """The application, with the imaging handlers registered if app.py does not list them yet."""
    from litestar.testing import TestClient

    from web.api import imaging as imaging_api
    from web.app import create_app
    from web.pages import imaging as imaging_pages

    app = create_app()
    if not any(r.path == "/imaging" for r in app.routes):
        for handler in (
            imaging_api.ImagingController,
            imaging_pages.imaging_page,
            imaging_pages.start_from_page,
            imaging_pages.enrol_from_page,
        ):
            app.register(handler)
    with TestClient(app, base_url="http://testserver.local") as client:
        yield client


def auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_host_keys_images_and_refusals(web: Any, tokens: dict[str, str], raw_image) -> None:  # noqa: F811
    import paramiko

    from provisioning.imaging import hostkeys

    key = paramiko.ECDSAKey.generate()
    line = f"{key.get_name()} {key.get_base64()} live@atelier"
    body = {"host": "*", "public_key": line, "label": "clé USB"}
    refused = web.post("/api/v1/imaging/host-keys", json=body, headers=auth(tokens, "technician"))
    assert refused.status_code == 403
    made = web.post("/api/v1/imaging/host-keys", json=body, headers=auth(tokens, "coordinator"))
    assert made.status_code == 201, made.text
    assert made.json()["fingerprint"] == hostkeys.fingerprint(key)
    bad = dict(body, public_key="ssh-ed25519 pas-du-base64")
    assert (
        web.post("/api/v1/imaging/host-keys", json=bad, headers=auth(tokens, "admin")).status_code
        == 422
    )
    run(add_image(raw_image, "debian-web"))
    listed = web.get("/api/v1/imaging/images", headers=auth(tokens, "technician")).json()
    assert [i["name"] for i in listed] == ["debian-web"] and listed[0]["mapped_bytes"] > 0
    page = web.get("/imaging", headers=auth(tokens, "technician"))
    assert page.status_code == 200 and "debian-web" in page.text
    assert hostkeys.fingerprint(key) in page.text
    unknown = web.post(
        "/api/v1/imaging/deployments",
        json={"image": "absente", "profile": "ecole", "targets": [{"tag": "x", "host": "h"}]},
        headers=auth(tokens, "technician"),
    )
    assert unknown.status_code in (404, 422)
    assert (
        web.get("/api/v1/imaging/deployments/999", headers=auth(tokens, "admin")).status_code == 404
    )


@pytest.mark.skipif(bool(can_run()) and os.environ.get("CI") != "true", reason=str(can_run()))
def test_deployment_started_from_the_web_reports_progress(
    web: Any,
    tokens: dict[str, str],
    raw_image,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inventory import devices
    from provisioning.imaging import deploy, hostkeys

    run(add_image(raw_image, "debian-web"))
    tags = run(wiped_devices(2))
    with Lab(2) as lab:
        for target in lab.targets:
            run(hostkeys.enrol(target.host, hostkeys.parse_public_key(target.public_key_line())))
        monkeypatch.setattr(deploy, "OPEN_SOCKET", lab.open_socket)
        monkeypatch.setenv("REEMPLOI_SSH_KEY", str(lab.client_key_file))
        targets = [
            {"tag": tag, "host": t.host, "disk": t.disk}
            for tag, t in zip(tags, lab.targets, strict=True)
        ]
        started = web.post(
            "/api/v1/imaging/deployments",
            json={"image": "debian-web", "profile": "association", "targets": targets},
            headers=auth(tokens, "technician"),
        )
        assert started.status_code == 202, started.text
        job_ids = started.json()
        # The web process only queues: nothing runs until a worker claims the jobs.
        time.sleep(0.5)
        queued = [
            web.get(f"/api/v1/imaging/deployments/{j}", headers=auth(tokens, "technician"))
            for j in job_ids
        ]
        assert [j.json()["status"] for j in queued] == ["queued", "queued"]
        with worker_thread():
            jobs = wait_for_jobs(web, tokens, job_ids)
        assert [j["status"] for j in jobs] == ["passed", "passed"], [j["reason"] for j in jobs]
        assert all(j["bytes_done"] == j["bytes_total"] > 0 for j in jobs)
        assert all(j["phase_label"] == "Terminé" for j in jobs)
    assert {run(devices.get_device(t))["state"] for t in tags} == {"imaged"}


def wait_for_jobs(web: Any, tokens: dict[str, str], job_ids: list[int]) -> list[dict[str, Any]]:
    """Poll the API as the page does until every job has ended (or two minutes passed)."""
    deadline = time.monotonic() + 120
    while True:
        jobs = [
            web.get(f"/api/v1/imaging/deployments/{j}", headers=auth(tokens, "technician")).json()
            for j in job_ids
        ]
        if all(j["status"] in ("passed", "failed") for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


def test_a_bad_port_or_disk_is_refused_alike_by_the_api_and_the_page(
    web: Any,
    tokens: dict[str, str],
    raw_image,  # noqa: F811
) -> None:
    """The same command (deploy.DeploymentIn) refuses the same values from JSON and the form;
    nothing is queued."""
    from provisioning.imaging.tables import DeploymentJob
    from tests.browser import PASSWORD
    from web.accounts import create_user

    run(add_image(raw_image, "debian-web"))
    [tag] = run(wiped_devices(1))
    run(create_user("technicienne", PASSWORD, "technician"))
    web.get("/login")
    logged = web.post(
        "/login",
        data={"username": "technicienne", "password": PASSWORD,
              "_csrf_token": web.cookies.get("reemploi_csrf")},
        follow_redirects=False,
    )  # fmt: skip
    assert logged.status_code == 303, logged.text
    for target, where, words in (
        ({"port": 99999}, "targets[0].port", "Port SSH : 65535 au plus."),
        ({"disk": "/dev/sda; rm -rf /"}, "targets[0].disk", "Disque : format non reconnu."),
        ({"host": "h\u00e9te malvenue"}, "targets[0].host", "Adresse : format non reconnu."),
    ):
        fields = {"tag": tag, "host": "10.0.0.2", **target}
        body = {"image": "debian-web", "profile": "ecole", "targets": [fields]}
        api = web.post("/api/v1/imaging/deployments", json=body, headers=auth(tokens, "admin"))
        assert api.status_code == 400 and where in api.json()["detail"], api.text
        line = f"{tag}@{fields['host']}:{fields.get('port', 22)}"
        if "disk" in fields:
            line += f"={fields['disk']}"
        page = web.post(
            "/imaging/deploy",
            data={"image": "debian-web", "profile": "ecole", "targets": line,
                  "_csrf_token": web.cookies.get("reemploi_csrf")},
        )  # fmt: skip
        assert page.status_code == 422, page.text
        assert html.unescape(page.text).count(words) == 1, words
    assert run(DeploymentJob.count()) == 0
