"""The imaging page queues a table of PCs as one chain, or unicast when asked, in Chromium."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory import devices
from tests.browser import PASSWORD, login, requests_leaving
from tests.sshtargets import build_test_image
from tests.support import new_donation, run
from web.accounts import create_user

pytestmark = pytest.mark.db


@pytest.fixture
def page(db: None, server: str, browser: Any) -> Iterator[Any]:
    run(create_user("technicienne", PASSWORD, "technician"))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    outside = requests_leaving(context, server)
    page = context.new_page()
    login(page, server, "technicienne")
    yield page
    context.close()
    assert not outside, f"requests left the workshop's server: {outside[:5]}"


@pytest.fixture
def workshop_key() -> Iterator[Path]:
    """The server's workshop key (the page refuses to queue without one)."""
    from inventory.config import settings

    path = settings().ssh_key
    existed = path.exists()
    if not existed:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    yield path
    if not existed:
        path.unlink()
        Path(f"{path}.pub").unlink(missing_ok=True)


async def wiped(count: int) -> list[str]:
    tags = await new_donation(count)
    for tag in tags:
        device = await devices.get_device(tag)
        disk = await devices.add_disk(device["id"], model="SSD", serial=f"S-{tag}", size_bytes=1)
        await devices.apply_transition(tag, "triage", "test")
        await devices.record_disk_sanitized(disk, True, "test", {"method": "clear"})
        await devices.apply_transition(tag, "wipe_passed", "test")
    return tags


def test_a_table_of_pcs_is_queued_as_one_chain_or_unicast(
    page: Any, server: str, workshop_key: Path, tmp_path: Path
) -> None:
    from provisioning.imaging import images, jobs

    build_test_image(tmp_path / "raw.img", size=8 * 2**20, random_bytes=2 * 2**20)
    run(images.add_image("debian-test", tmp_path / "raw.img", actor="test"))
    tags = run(wiped(4))

    def submit(lines: list[str], mode: str | None) -> None:
        page.goto(f"{server}/imaging")
        assert page.input_value("#mode") == "auto"  # chained from two PCs unless asked
        if mode is not None:
            page.select_option("#mode", mode)
        page.fill("#targets", "\n".join(lines))
        with page.expect_navigation():
            page.locator("form#deploy-form button[type=submit]").click()
        assert page.url == f"{server}/imaging", page.inner_text("body")[:400]

    submit([f"{tags[0]}@10.9.0.1", f"{tags[1]}@10.9.0.2"], None)
    submit([f"{tags[2]}@10.9.0.3", f"{tags[3]}@10.9.0.4"], "unicast")
    queued = sorted(run(jobs.recent()), key=lambda j: j["id"])
    assert [j["asset_tag"] for j in queued] == tags
    assert [j["status"] for j in queued] == ["queued"] * 4
    chained, unicast = queued[:2], queued[2:]
    assert chained[0]["chain"] and chained[0]["chain"] == chained[1]["chain"]
    assert [j["chain"] for j in unicast] == ["", ""]
