"""Programmes: coordinators and administrators only; a loan's deposit and the giving or selling
of a device to a member: the lending roles (issue #14)."""

from __future__ import annotations

from tests.route_policies import LENDING, MANAGERS, Policy

POLICY: Policy = {
    ("GET", "/programmes"): MANAGERS,
    ("GET", "/programmes/new"): MANAGERS,
    ("POST", "/programmes/new"): MANAGERS,
    ("GET", "/programmes/{programme_id:int}"): MANAGERS,
    ("POST", "/programmes/{programme_id:int}"): MANAGERS,
    ("POST", "/programmes/{programme_id:int}/archive"): MANAGERS,
    ("POST", "/loans/{loan_id:int}/deposit"): LENDING,
    ("POST", "/loans/{loan_id:int}/cession"): LENDING,
    ("GET", "/api/v1/loans/{loan_id:int}/money"): LENDING,
    ("POST", "/api/v1/loans/{loan_id:int}/deposit"): LENDING,
    ("POST", "/api/v1/loans/cessions"): LENDING,
    ("POST", "/api/v1/loans/memberships/{membership_id:int}/refund"): LENDING,
}
