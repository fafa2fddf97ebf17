"""The route policy, one module per area: each holds `POLICY = {(method, path): roles}`.

Written independently of the handlers' declarations; `test_route_guards_db` merges them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from web.roles import Role

ALL = set(Role)
STAFF = {Role.technician, Role.mediator, Role.coordinator, Role.admin}
WORKSHOP = {Role.technician, Role.coordinator, Role.admin}
MANAGERS = {Role.coordinator, Role.admin}
LENDING = {Role.mediator, Role.coordinator, Role.admin}
PARTNERS = {Role.partner}
FUNDING = {Role.coordinator, Role.admin, Role.funder}
ADMINS = {Role.admin}
PUBLIC = "public"

Policy = dict[tuple[str, str], set[Role] | str]


def merged() -> Policy:
    """Every area's policy; a route declared by two areas is a mistake."""
    policy: Policy = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        part: Policy = module.POLICY
        twice = set(part) & set(policy)
        assert not twice, f"routes in two policy modules: {twice}"
        policy.update(part)
    return policy
