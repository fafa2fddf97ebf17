"""Label geometry and content rules, without the database."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest

from inventory.errors import Invalid
from labels import settings
from labels.layout import LabelConfig, LabelItem, choose_modules, format_ram, plan_label
from labels.sheets import MAX_LABELS, check_start, labels_pdf, place, slots
from labels.stocks import A4, STOCKS, get_stock
from labels.typeface import fit_text, text_width
from tests.test_labels_scan import BASE_URL, LONGEST_TAG, items_for, label_crop, px, rasterise


def test_fit_text_keeps_what_fits_and_marks_what_it_cuts() -> None:
    assert fit_text("Lenovo ThinkPad T480", "sans", 6, 40) == "Lenovo ThinkPad T480"
    cut = fit_text("W" * 120, "sans", 6, 30)
    assert cut.endswith("…") and len(cut) < 120
    assert text_width(cut, "sans", 6) <= 30
    assert fit_text("Lenovo   ThinkPad\n T480", "sans", 6, 40) == "Lenovo ThinkPad T480"


@pytest.mark.parametrize("key", ["l7160", "l7651"])
def test_sheet_labels_sit_on_a4_without_overlapping(key: str) -> None:
    stock = STOCKS[key]
    assert (stock.page_width, stock.page_height) == A4
    boxes = [
        (x, y, x + stock.label_width, y + stock.label_height)
        for _, x, y in slots(stock, stock.per_page)
    ]
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 and x1 <= A4[0] + 1e-6 and 0 <= y0 and y1 <= A4[1] + 1e-6
    for a, b in combinations(boxes, 2):
        assert (
            a[2] <= b[0] + 1e-6 or b[2] <= a[0] + 1e-6 or a[3] <= b[1] + 1e-6 or b[3] <= a[1] + 1e-6
        )
    # Symmetric margins: the figures add up to the sheet.
    last = boxes[-1]
    assert abs((A4[0] - last[2]) - boxes[0][0]) < 0.05
    assert abs((A4[1] - last[3]) - boxes[0][1]) < 0.05


def test_stock_names_and_custom_sizes() -> None:
    assert get_stock(" L7160 ") is STOCKS["l7160"]
    custom = get_stock("custom:57,5x32")
    assert (custom.label_width, custom.label_height, custom.per_page) == (57.5, 32.0, 1)
    with pytest.raises(Invalid, match="brother62"):
        get_stock("avery")
    with pytest.raises(Invalid, match="hors limites"):
        get_stock("custom:10x10")


def test_start_position_is_checked() -> None:
    check_start(STOCKS["l7651"], 65)
    with pytest.raises(Invalid, match="entre 1 et 65"):
        check_start(STOCKS["l7651"], 66)
    with pytest.raises(Invalid, match="une étiquette par page"):
        check_start(STOCKS["brother62"], 2)
    with pytest.raises(Invalid):
        place([], STOCKS["l7160"])
    with pytest.raises(Invalid, match=str(MAX_LABELS)):
        place(items_for(["RE-000001-F"]) * (MAX_LABELS + 1), STOCKS["l7160"])


def test_barcode_modules_are_whole_dots_and_the_qr_gives_way() -> None:
    longest = items_for([LONGEST_TAG])[0]
    for stock in STOCKS.values():
        dots, _ = choose_modules(longest, stock)
        assert dots >= 2
    # Too narrow for the longest tag's Code128 and a QR side by side: the QR goes.
    assert choose_modules(longest, STOCKS["brother62"])[1] is None
    # Wide enough: both, and the bars stay at 10 mil or more.
    dots, qr = choose_modules(longest, STOCKS["dymo99012"])
    assert qr is not None and dots * STOCKS["dymo99012"].dot >= 0.25
    assert qr[1] == f"{BASE_URL}/d/{LONGEST_TAG}"


def test_a_label_too_small_for_a_readable_barcode_is_refused() -> None:
    with pytest.raises(Invalid, match="trop étroite"):
        plan_label(items_for([LONGEST_TAG])[0], get_stock("custom:30x20"))


def test_what_a_label_shows_follows_the_site_config() -> None:
    bare = LabelConfig(show_qr=False, show_specs=False, show_org=False, show_phone=False)
    plan = plan_label(LabelItem(tag="RE-000123-7", brand="HP", config=bare), STOCKS["l7160"])
    assert [line.text for line in plan.lines] == ["RE-000123-7"] and plan.qr is None
    full = LabelConfig(org_name="Atelier", phone="0320", base_url=BASE_URL)
    plan = plan_label(
        LabelItem(tag="RE-000123-7", brand="HP", model="EliteBook 840", ram_mb=4096, config=full),
        STOCKS["dymo99012"],
    )
    texts = [line.text for line in plan.lines]
    assert texts[0] == "RE-000123-7" and "HP EliteBook 840" in texts
    assert "Atelier · Tél. 0320" in texts and plan.qr is not None


def test_ram_reads_like_a_person_would_write_it() -> None:
    assert format_ram(0) == ""
    assert format_ram(512) == "512 Mo"
    assert format_ram(8192) == "8 Go"
    assert format_ram(1536) == "1,5 Go"


def test_site_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEMPLOI_DATA_DIR", str(tmp_path))
    site = {"name": "Atelier Nord", "phone": "03 20 00 00 00", "address": ""}
    assert settings.label_config(site, BASE_URL).org_name == "Atelier Nord"
    (tmp_path / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<rect width="10" height="10" fill="#000"/></svg>',
        encoding="utf-8",
    )
    (tmp_path / "labels.json").write_text(
        json.dumps(
            {
                "defaults": {"org_name": "Réemploi Solidaire", "logo": "logo.svg"},
                "sites": {
                    "Atelier Nord": {"show_qr": False, "handout": {"hours": "Mardi 14 h-18 h"}}
                },
            }
        ),
        encoding="utf-8",
    )
    config = settings.label_config(site, BASE_URL)
    assert (config.org_name, config.phone, config.show_qr) == (
        "Réemploi Solidaire",
        "03 20 00 00 00",
        False,
    )
    assert config.logo == str((tmp_path / "logo.svg").resolve())
    assert settings.label_config({"name": "Autre"}, BASE_URL).show_qr is True
    handout = settings.handout_config(site)
    assert (handout.org_name, handout.hours) == ("Réemploi Solidaire", "Mardi 14 h-18 h")

    # The logo is drawn, inside its box.
    stock = STOCKS["l7160"]
    item = LabelItem(tag="RE-000123-7", brand="HP", config=config)
    plan = plan_label(item, stock)
    assert plan.logo is not None
    page = rasterise(labels_pdf([item], stock), stock.dpi, tmp_path / "raster")[0]
    label = label_crop(page, stock, *stock.slot_origin(0))
    logo = plan.logo
    inner = label.crop(
        (
            px(logo.x + 0.5, stock.dpi),
            px(logo.y + 0.5, stock.dpi),
            px(logo.x + logo.width - 0.5, stock.dpi),
            px(logo.y + logo.height - 0.5, stock.dpi),
        )
    )
    assert inner.getextrema() == (0, 0), "the black square logo fills its box"

    (tmp_path / "labels.json").write_text('{"defaults": {"colour": "red"}}', encoding="utf-8")
    with pytest.raises(Invalid, match="colour"):
        settings.label_config(site, BASE_URL)
    (tmp_path / "labels.json").write_text('{"defaults": {"logo": "absent.png"}}', encoding="utf-8")
    with pytest.raises(Invalid, match="introuvable"):
        settings.label_config(site, BASE_URL)
