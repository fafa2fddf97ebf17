"""What the target writes into the installed system: the personalisation spec of a device."""

from __future__ import annotations

from typing import Any

from inventory.clock import now
from inventory.config import settings
from provisioning.imaging.profiles import Profile


def support_contact() -> str:
    """`REEMPLOI_SUPPORT_CONTACT`: who the borrower calls (printed in /etc/reemploi/asset.json)."""
    return settings().support_contact


def hostname_for(asset_tag: str) -> str:
    """A valid hostname from an asset tag (`RE-000123-K` -> `re-000123-k`)."""
    name = "".join(c if c.isalnum() else "-" for c in asset_tag.lower()).strip("-")
    return name[:63] or "reemploi"


def spec_for(asset_tag: str, profile: Profile, image: dict[str, Any]) -> dict[str, Any]:
    return {
        "hostname": hostname_for(asset_tag),
        "accounts": [a.spec() for a in profile.accounts],
        "locale": profile.locale,
        "keymap": profile.keymap,
        "post_install": profile.post_install,
        "extra": dict(profile.extra),
        "asset": {
            "asset_tag": asset_tag,
            "support_contact": support_contact(),
            "profile": profile.name,
            "image": image["name"],
            "image_version": image["version"],
            "image_sha256": image["map_sha256"],
            "installed_at": now().isoformat(timespec="seconds"),
        },
    }
