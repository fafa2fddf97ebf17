"""The main menu: each entry names the capability of the page it opens, so no role sees a link
that answers 403 (the route guard checks the same capability sets from `web.roles`)."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.states import N_
from web.roles import FUNDING, LENDING, MANAGERS, PARTNERS, STAFF, WORKSHOP, Role


@dataclass(frozen=True)
class MenuEntry:
    path: str
    label: str
    roles: frozenset[Role]


MENU: tuple[MenuEntry, ...] = (
    MenuEntry("/scan", N_("Scanner"), STAFF),
    MenuEntry("/devices", N_("Appareils"), STAFF),
    MenuEntry("/intake", N_("Nouveau don"), WORKSHOP),
    MenuEntry("/workshop", N_("Atelier"), WORKSHOP),
    MenuEntry("/wiping", N_("Effacement"), WORKSHOP),
    MenuEntry("/labels", N_("Étiquettes"), WORKSHOP),
    MenuEntry("/imaging", N_("Installation"), WORKSHOP),
    MenuEntry("/images", N_("Images système"), WORKSHOP),
    MenuEntry("/loans", N_("Prêts et retours"), LENDING),
    MenuEntry("/borrowers", N_("Emprunteurs"), LENDING),
    MenuEntry("/organisations", N_("Organisations"), LENDING),
    MenuEntry("/agenda", N_("Agenda"), LENDING),
    MenuEntry("/partner", N_("Mon organisation"), PARTNERS),
    MenuEntry("/charters", N_("Chartes"), MANAGERS),
    MenuEntry("/programmes", N_("Programmes"), MANAGERS),
    MenuEntry("/sites", N_("Lieux"), MANAGERS),
    MenuEntry("/accounts", N_("Comptes"), MANAGERS),
    MenuEntry("/reports", N_("Rapports"), FUNDING),
    MenuEntry("/check", N_("Contrôle"), MANAGERS),
    MenuEntry("/admin/", N_("Administration"), frozenset({Role.admin})),
)


def menu_for(role: str | None) -> list[MenuEntry]:
    """The entries a role may open, in menu order."""
    return [entry for entry in MENU if role in entry.roles]


def may_open(role: str | None, path: str) -> bool:
    """Whether a role may open the menu page at `path` (for links outside the menu)."""
    return any(entry.path == path and role in entry.roles for entry in MENU)
