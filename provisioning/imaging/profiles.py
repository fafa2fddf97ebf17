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
            # target_personalise.family_filter: filtering DNS and safe search, no network needed.
            extra={"family_filter": True},
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


# What the school profile's parental control does and does not do, said plainly (docs and pages).
FAMILY_FILTER_TEXT = N_(
    "Profil École : le compte « enfant » n'est pas administrateur ; le système résout les noms "
    "par les DNS filtrants familiaux de Cloudflare (1.1.1.3 et 1.0.0.3 : sites adultes et "
    "malveillants bloqués), imposés à NetworkManager et à systemd-resolved ; Google, YouTube et "
    "Bing sont forcés en recherche sécurisée (fichier /etc/hosts) ; Firefox et Chromium ont le "
    "DNS par HTTPS désactivé par politique. Il ne limite pas le temps d'écran, ne filtre pas les "
    "applications ni les messageries, ne résiste pas à un VPN ni au compte « parent » "
    "(administrateur), et ne protège plus si les DNS filtrants deviennent injoignables "
    "(aucun DNS de secours)."
)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise Invalid(
            f"Profil inconnu : {name} (profils : {', '.join(sorted(PROFILES))})."
        ) from None
