"""Per-site label and handout settings, read from `<data dir>/labels.json`.

    {"defaults": {"org_name": "Association X", "show_qr": true, "logo": "logo.svg"},
     "sites": {"Atelier Nord": {"phone": "03 20 00 00 00", "handout": {"hours": "mardi 14-18 h"}}}}

Keys of `LabelConfig` and, under "handout", of `HandoutConfig`. Site values win over defaults;
the site's own name and phone fill what neither sets. Relative logo paths start at the data dir.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from inventory import config
from inventory.errors import Invalid
from labels.handout import HandoutConfig
from labels.layout import LabelConfig

FILE_NAME = "labels.json"
_LABEL_KEYS = {f.name for f in fields(LabelConfig)} - {"base_url"}
_HANDOUT_KEYS = {f.name for f in fields(HandoutConfig)}


def settings_path() -> Path:
    """Where the per-site settings live: `labels.json` in the data directory."""
    return config.data_dir() / FILE_NAME


def load_settings() -> dict[str, Any]:
    """The settings file's content, or nothing when there is no file."""
    path = settings_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Invalid(f"Réglages d'étiquettes illisibles ({path}) : {error}") from None
    if not isinstance(data, dict):
        raise Invalid(f"Réglages d'étiquettes ({path}) : un objet JSON est attendu.")
    return data


def _section(settings: dict[str, Any], site_name: str) -> dict[str, Any]:
    """Defaults overlaid with the site's own entry, handout sub-section merged the same way."""
    defaults = dict(settings.get("defaults") or {})
    site = dict((settings.get("sites") or {}).get(site_name) or {})
    handout = {**(defaults.pop("handout", None) or {}), **(site.pop("handout", None) or {})}
    merged = {**defaults, **site}
    unknown = set(merged) - _LABEL_KEYS
    unknown |= {f"handout.{key}" for key in set(handout) - _HANDOUT_KEYS}
    if unknown:
        raise Invalid(
            f"Réglages d'étiquettes ({settings_path()}) : clés inconnues "
            + ", ".join(sorted(unknown))
            + "."
        )
    return {**merged, "handout": handout}


def _logo(value: Any) -> str | None:
    """The logo's absolute path, checked to exist; relative paths start at the data dir."""
    if not value:
        return None
    path = Path(str(value))
    if not path.is_absolute():
        path = config.data_dir() / path
    if not path.is_file():
        raise Invalid(f"Logo des étiquettes introuvable : {path}")
    return str(path.resolve())


def label_config(site: dict[str, Any] | None, base_url: str) -> LabelConfig:
    """What this site's labels show; `site` is a Site row or None."""
    site = site or {}
    values = _section(load_settings(), site.get("name", ""))
    values.pop("handout")
    result = LabelConfig(
        org_name=site.get("name", ""), phone=site.get("phone", ""), base_url=base_url
    )
    result = replace(result, **{k: v for k, v in values.items() if k != "logo"})
    return replace(result, logo=_logo(values.get("logo")))


def handout_config(site: dict[str, Any] | None) -> HandoutConfig:
    """What this site's handout sheets say besides the device."""
    site = site or {}
    section = _section(load_settings(), site.get("name", ""))
    values = dict(section["handout"])
    for key in ("first_login", "commitments"):
        if key in values:
            values[key] = tuple(str(line) for line in values[key])
    org = section.get("org_name") or site.get("name", "")
    phone = section.get("phone") or site.get("phone", "")
    return replace(HandoutConfig(org_name=org, phone=phone), **values)
