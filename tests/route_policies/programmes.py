"""Programmes: coordinators and administrators only."""

from __future__ import annotations

from tests.route_policies import MANAGERS, Policy

POLICY: Policy = {
    ("GET", "/programmes"): MANAGERS,
    ("GET", "/programmes/new"): MANAGERS,
    ("POST", "/programmes/new"): MANAGERS,
    ("GET", "/programmes/{programme_id:int}"): MANAGERS,
    ("POST", "/programmes/{programme_id:int}"): MANAGERS,
    ("POST", "/programmes/{programme_id:int}/archive"): MANAGERS,
}
