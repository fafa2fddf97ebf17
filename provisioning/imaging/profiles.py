"""Installation profiles: accounts, French locale and keyboard, optional post-install script."""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.errors import Invalid
from inventory.states import N_

ADMIN_GROUPS = ["sudo", "adm", "lpadmin"]
USER_GROUPS = ["audio", "video", "plugdev", "netdev", "cdrom"]


@dataclass(frozen=True)
class Account:
    name: str
    full_name: str
    admin: bool = False

    def spec(self) -> dict:
        groups = USER_GROUPS + (ADMIN_GROUPS if self.admin else [])
        return {"name": self.name, "full_name": self.full_name, "groups": groups}


@dataclass(frozen=True)
class Profile:
    name: str
    label: str
    accounts: tuple[Account, ...]
    locale: str = "fr_FR.UTF-8"
    keymap: str = "fr"
    post_install: str = ""
    extra: dict = field(default_factory=dict)


PROFILES = {
    p.name: p
    for p in (
        Profile(
            "ecole",
            N_("École"),
            (Account("parent", "Parent", admin=True), Account("enfant", "Enfant")),
            post_install="#!/bin/sh\n# Contrôle parental : à compléter par l'atelier.\nexit 0\n",
        ),
        Profile("famille", N_("Famille"), (Account("famille", "Famille", admin=True),)),
        Profile("senior", N_("Senior"), (Account("senior", "Senior", admin=True),)),
        Profile(
            "association",
            N_("Association"),
            (Account("admin-asso", "Administration", admin=True), Account("benevole", "Bénévole")),
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise Invalid(
            f"Profil inconnu : {name} (profils : {', '.join(sorted(PROFILES))})."
        ) from None
