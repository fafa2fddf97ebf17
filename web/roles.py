"""Roles of DESIGN section 1."""

from enum import StrEnum


class Role(StrEnum):
    technician = "technician"
    mediator = "mediator"
    coordinator = "coordinator"
    partner = "partner"
    funder = "funder"
    admin = "admin"


ROLE_LABELS_FR = {
    Role.technician: "Technicien d'atelier",
    Role.mediator: "Médiateur numérique",
    Role.coordinator: "Coordinateur",
    Role.partner: "Partenaire",
    Role.funder: "Financeur",
    Role.admin: "Administrateur",
}

# Who may do what, by capability; routes name a capability, never a list of roles.
WORKSHOP = frozenset({Role.technician, Role.coordinator, Role.admin})
STAFF = frozenset({Role.technician, Role.mediator, Role.coordinator, Role.admin})
MANAGERS = frozenset({Role.coordinator, Role.admin})
EVERYONE = frozenset(Role)
# Lending: mediators check devices out and in, get charters signed and run follow-up sessions.
LENDING = frozenset({Role.mediator, Role.coordinator, Role.admin})
# Partners (a school, a social centre) see their own organisation's loans and sessions only.
PARTNERS = frozenset({Role.partner})
# Reports: funders read those of the programmes linked to their account.
FUNDING = frozenset({Role.coordinator, Role.admin, Role.funder})

# The capabilities by name, for templates: `{% if principal.role in capabilities.MANAGERS %}`
# reads the same sets the route guard checks, never a list of roles written in the template.
CAPABILITIES = {
    "WORKSHOP": WORKSHOP,
    "STAFF": STAFF,
    "MANAGERS": MANAGERS,
    "LENDING": LENDING,
    "PARTNERS": PARTNERS,
    "FUNDING": FUNDING,
    "EVERYONE": EVERYONE,
}
