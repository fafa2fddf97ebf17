"""Charter versions: coordinators and admins write them; lending staff read them on /loans/new."""

from __future__ import annotations

from tests.route_policies import MANAGERS, Policy

POLICY: Policy = {
    ("GET", "/charters"): MANAGERS,
    ("GET", "/charters/new"): MANAGERS,
    ("POST", "/charters/new"): MANAGERS,
    ("GET", "/charters/{version:int}"): MANAGERS,
}
