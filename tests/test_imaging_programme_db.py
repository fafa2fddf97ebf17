"""Imaging from the programme (issue #14): the /imaging form offers the programmes that name an
imaging profile, and the deployment it queues uses that profile, not the one selected."""

from __future__ import annotations

import html
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from inventory.config import settings
from loans import programmes
from provisioning.imaging.tables import DeploymentJob
from tests.browser import PASSWORD
from tests.support import run
from tests.test_imaging_deploy_db import add_image, raw_image, wiped_devices  # noqa: F401
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def web(db: None) -> Iterator[Any]:
    from litestar.testing import TestClient

    from web.app import create_app

    key = settings().ssh_key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with TestClient(create_app(), base_url="http://testserver.local") as client:
        run(create_user("technicienne", PASSWORD, "technician"))
        client.get("/login")
        logged = client.post(
            "/login",
            data={"username": "technicienne", "password": PASSWORD,
                  "_csrf_token": client.cookies.get("reemploi_csrf")},
            follow_redirects=False,
        )  # fmt: skip
        assert logged.status_code == 303, logged.text
        yield client


def test_the_programme_chosen_on_the_imaging_page_gives_the_profile(
    web: Any,
    raw_image,  # noqa: F811
) -> None:
    run(add_image(raw_image, "debian-prog"))
    [tag] = run(wiped_devices(1))
    school = run(
        programmes.create(
            programmes.ProgrammeIn(name="Collège numérique", imaging_profile="ecole"), "coord"
        )
    )
    run(programmes.create(programmes.ProgrammeIn(name="Sans profil"), "coord"))
    page = html.unescape(web.get("/imaging").text)
    assert "Collège numérique · École" in page and "Sans profil" not in page
    sent = web.post(
        "/imaging/deploy",
        data={"image": "debian-prog", "profile": "famille", "programme_id": str(school["id"]),
              "targets": f"{tag}@10.0.0.2:22",
              "_csrf_token": web.cookies.get("reemploi_csrf")},
        follow_redirects=False,
    )  # fmt: skip
    assert sent.status_code in (302, 303), sent.text
    job = run(DeploymentJob.select(DeploymentJob.profile).first())
    assert job is not None and job["profile"] == "ecole"
    with pytest.raises(Exception, match="Profil d'installation inconnu"):
        run(programmes.create(programmes.ProgrammeIn(name="X", imaging_profile="kiosque"), "c"))
