"""Mediation pages: agenda, sessions (record, correct, unplanned), collective workshops."""

from tests.route_policies import LENDING, Policy

POLICY: Policy = {
    ("GET", "/agenda"): LENDING,
    ("GET", "/sessions/new"): LENDING,
    ("POST", "/sessions/new"): LENDING,
    ("GET", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/sessions/{session_id:int}/correct"): LENDING,
    ("GET", "/workshops/new"): LENDING,
    ("POST", "/workshops/new"): LENDING,
}
