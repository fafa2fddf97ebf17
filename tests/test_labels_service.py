"""Labels from the database: by donation or by tags, through the service, the command line and
the pages; the same PDF whichever way it is asked for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from inventory.errors import Invalid, NotFound
from inventory.intake import DeviceSpec, create_donor, create_site, register_donation
from inventory.tables import Device
from inventory.tags import TagError, TagMisread, format_tag
from labels import service
from labels.sheets import slots
from labels.stocks import STOCKS
from tests.support import run
from tests.test_labels_scan import check_batch, decode, label_crop, rasterise
from web import accounts
from web.cli import main
from web.pages import labels as label_pages
from web.settings import base_url

pytestmark = pytest.mark.db
UNKNOWN = format_tag("RE", 999_999)


def donation(count: int = 5) -> tuple[int, list[str]]:
    """A registered donation of `count` laptops at a site with a phone number."""

    async def create() -> tuple[int, list[str]]:
        site = await create_site("Atelier Nord", "12 rue des Lilas, Lille", "03 20 00 00 00")
        donor = await create_donor("Lycée Pasteur", "school")
        specs = [
            DeviceSpec(brand="Dell", model=f"Latitude E54{i:02d}", serial=f"SN{i}")
            for i in range(count)
        ]
        lot = await register_donation(
            donor_id=donor["id"],
            site_id=site["id"],
            received_on=date.today(),
            devices=specs,
            actor="test",
        )
        await Device.update({Device.ram_mb: 8192, Device.cpu: "Intel Core i5-6300U"}).where(
            Device.donation == lot["id"]
        )
        return lot["id"], lot["tags"]

    return run(create())


def read_labels(pdf: bytes, stock_key: str, tags: list[str], start: int, workdir: Path) -> None:
    stock = STOCKS[stock_key]
    pages = rasterise(pdf, stock.dpi, workdir)
    for tag, (page, x, y) in zip(tags, slots(stock, len(tags), start), strict=True):
        found = decode(label_crop(pages[page], stock, x, y))
        assert found["code128"] == [tag]


def test_a_donation_prints_as_one_pdf(db: None, tmp_path: Path) -> None:
    donation_id, tags = donation(7)
    pdf = run(service.labels_pdf(base_url=base_url(), stock="l7651", donation=donation_id, start=3))
    read_labels(pdf, "l7651", tags, 3, tmp_path)
    items = run(service.items_for_donation(donation_id, base_url()))
    assert [i.tag for i in items] == tags
    assert items[0].config.org_name == "Atelier Nord"
    assert items[0].config.phone == "03 20 00 00 00"
    assert items[0].model == "Latitude E5400" and items[0].ram_mb == 8192
    check_batch(items, STOCKS["dymo99012"], 1, tmp_path / "dymo")


def test_a_selection_of_tags_prints_in_the_order_given(db: None, tmp_path: Path) -> None:
    _, tags = donation(4)
    chosen = [tags[2], tags[0]]
    codes = service.parse_tag_list(f" {chosen[0].lower()} ,\n{chosen[1]} ")
    pdf = run(service.labels_pdf(base_url=base_url(), stock="brother62", tags=codes))
    read_labels(pdf, "brother62", chosen, 1, tmp_path)


def test_bad_requests_get_a_sentence_and_no_pdf(db: None) -> None:
    _, tags = donation(1)
    with pytest.raises(NotFound, match="Aucun don"):
        run(service.labels_pdf(base_url=base_url(), stock="l7160", donation=999))
    with pytest.raises(NotFound, match=UNKNOWN):
        run(service.labels_pdf(base_url=base_url(), stock="l7160", tags=[UNKNOWN]))
    misread = tags[0][:-1] + ("0" if tags[0][-1] != "0" else "1")
    with pytest.raises(TagMisread):
        service.parse_tag_list(misread)
    with pytest.raises(Invalid, match="soit un don"):
        run(service.labels_pdf(base_url=base_url(), stock="l7160"))
    with pytest.raises(Invalid, match="Support"):
        run(service.labels_pdf(base_url=base_url(), stock="a5", tags=tags))
    with pytest.raises(Invalid, match="entre 1 et 21"):
        run(service.labels_pdf(base_url=base_url(), stock="l7160", tags=tags, start=22))


def test_handout_sheet_of_a_registered_device(db: None, tmp_path: Path) -> None:
    _, tags = donation(1)
    pdf = run(service.handout_pdf(tags[0]))
    page = rasterise(pdf, 300, tmp_path)[0]
    assert decode(page)["code128"] == [tags[0]]
    with pytest.raises(TagError):
        run(service.handout_pdf("n'importe quoi"))


def test_command_line(db: None, tmp_path: Path) -> None:
    donation_id, tags = donation(3)
    runner = CliRunner()
    out = tmp_path / "don.pdf"
    result = runner.invoke(
        main,
        ["label", "--donation", str(donation_id), "--stock", "l7160", "--start", "5"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    read_labels(out.read_bytes(), "l7160", tags, 5, tmp_path / "don")

    out = tmp_path / "tags.pdf"
    result = runner.invoke(
        main, ["label", "--tags", f"{tags[1]},{tags[2]}", "--stock", "dymo99012", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    read_labels(out.read_bytes(), "dymo99012", tags[1:], 1, tmp_path / "tags")

    result = runner.invoke(
        main, ["label", "--tags", UNKNOWN, "--stock", "l7160", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "Erreur : Aucun appareil" in result.output
    assert not (tmp_path / "x").exists()
    result = runner.invoke(main, ["label", "--help"])
    assert "--donation" in result.output and "brother62" in result.output


def client_with(role: str) -> TestClient:
    """The real application with the label pages, as a bearer-token caller of `role`."""
    from web.app import create_app

    app = create_app()
    paths = {route.path for route in app.routes}
    for handler in (
        label_pages.labels_form,
        label_pages.labels_document,
        label_pages.device_label,
        label_pages.device_handout,
    ):
        if next(iter(handler.paths)).replace(":str", "") not in {
            p.replace(":str", "") for p in paths
        }:
            app.register(handler)
    token = run(accounts.create_token(f"test-{role}", role))
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_pages(db: None, tmp_path: Path) -> None:
    donation_id, tags = donation(2)
    with client_with("technician") as client:
        form = client.get(f"/labels?donation={donation_id}")
        assert form.status_code == 200 and "Imprimer des étiquettes" in form.text
        assert f'value="{donation_id}"' in form.text

        response = client.get(f"/labels.pdf?donation={donation_id}&stock=l7160&start=2")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        read_labels(response.content, "l7160", tags, 2, tmp_path / "batch")

        response = client.get(f"/d/{tags[1]}/label.pdf?stock=brother62")
        assert response.status_code == 200
        read_labels(response.content, "brother62", [tags[1]], 1, tmp_path / "one")

        response = client.get(f"/d/{tags[0]}/handout.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF-")

        response = client.get("/labels.pdf?donation=abc&stock=l7160")
        assert response.status_code == 422 and "nombre entier" in response.text
        response = client.get(f"/labels.pdf?tags={UNKNOWN}&stock=l7160")
        assert response.status_code == 404
    with client_with("mediator") as client:
        assert client.get(f"/labels.pdf?donation={donation_id}").status_code == 403
        assert client.get(f"/d/{tags[0]}/handout.pdf").status_code == 200
