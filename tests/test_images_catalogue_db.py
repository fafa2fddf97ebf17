"""Images added from the inbox, retired (kept, no longer offered); fingerprints as typed."""

from __future__ import annotations

import secrets

import pytest

from inventory.errors import Conflict, Invalid
from inventory.tables import Event
from tests.support import run

pytestmark = pytest.mark.db


def test_an_image_from_the_inbox_is_retired_once_and_no_longer_deployed(db: None) -> None:
    from provisioning.imaging import catalogue, deploy
    from provisioning.imaging.catalogue import ImageAdd, ImageRetire

    inbox = catalogue.inbox_dir()
    name = f"unit-{secrets.token_hex(3)}.img"
    with open(inbox / name, "wb") as f:
        f.truncate(2 * 2**20)
        f.write(secrets.token_bytes(8192))
    try:
        assert name in {f["name"] for f in run(catalogue.inbox_files())}
        for bad in ("../reemploi.sqlite", "/etc/passwd", "absent.img"):
            with pytest.raises(Invalid):
                run(catalogue.add_from_inbox(ImageAdd(name="x", file=bad), "test"))
        image = run(catalogue.add_from_inbox(ImageAdd("unit-image", name, "2"), "test"))
        assert image["version"] == "2" and image["mapped_bytes"] > 0
        assert [i["name"] for i in run(catalogue.offered())] == ["unit-image"]
        run(catalogue.retire(image["id"], "test", ImageRetire(reason="remplacée")))
        with pytest.raises(Conflict):
            run(catalogue.retire(image["id"], "test"))
        assert run(catalogue.offered()) == []
        events = run(Event.select().where(Event.kind == catalogue.RETIRED))
        assert len(events) == 1 and events[0]["actor"] == "test"
        with pytest.raises(Conflict, match="retirée"):
            run(deploy.prepare("unit-image", "ecole", [deploy.parse_target("X@h")], "test"))
    finally:
        (inbox / name).unlink(missing_ok=True)


def test_fingerprints_are_read_as_people_copy_them() -> None:
    from provisioning.imaging.enrolment import normalise

    body = "A" * 43
    assert normalise(f"SHA256:{body}") == f"SHA256:{body}"
    assert normalise(f"  sha256:{body}= ") == f"SHA256:{body}"
    assert normalise(body) == f"SHA256:{body}"
    for bad in ("", "SHA256:court", "MD5:aa:bb", f"SHA256:{body[:-1]}!"):
        with pytest.raises(Invalid):
            normalise(bad)


def test_a_size_in_words() -> None:
    from web.pages.wiping import duration_words, size_words

    assert size_words(0) == "0 octets"
    assert size_words(250_059_350_016) == "250 Go"
    assert size_words(8_388_608) == "8,4 Mo"
    assert duration_words(45) == "45 s"
    assert duration_words(192) == "3 min 12 s"
    assert duration_words(3900) == "1 h 05 min"
