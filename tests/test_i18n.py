"""Every French string shown to people has its English translation in the catalog."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from web.i18n import catalog

ROOT = Path(__file__).resolve().parent.parent
METHODS = [
    ("inventory/**.py", "python"),
    ("web/**.py", "python"),
    ("loans/**.py", "python"),
    ("provisioning/**.py", "python"),
    ("labels/**.py", "python"),
    ("web/templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "N_": None, "gettext": None}


def source_messages() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT),
        method_map=METHODS,
        options_map={"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    ):
        if isinstance(message, str) and message.strip():
            found.add(message)
    return found


def test_every_shown_string_has_an_english_translation() -> None:
    messages = source_messages()
    assert len(messages) > 100
    missing = sorted(m for m in messages if m not in catalog("en"))
    assert not missing, f"run `make messages` and translate: {missing[:10]}"
