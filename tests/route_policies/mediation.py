"""Mediation pages: agenda, sessions (record, correct, unplanned), collective workshops; the API's
corrections and unplanned sessions (the rest of /api/v1/sessions is in test_route_guards_db)."""

from tests.route_policies import LENDING, Policy

POLICY: Policy = {
    ("GET", "/agenda"): LENDING,
    ("GET", "/agenda/activities"): LENDING,
    ("GET", "/sessions/new"): LENDING,
    ("POST", "/sessions/new"): LENDING,
    ("GET", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/sessions/{session_id:int}"): LENDING,
    ("POST", "/sessions/{session_id:int}/correct"): LENDING,
    ("GET", "/workshops/new"): LENDING,
    ("POST", "/workshops/new"): LENDING,
    ("POST", "/api/v1/sessions"): LENDING,
    ("POST", "/api/v1/sessions/{session_id:int}/correct"): LENDING,
    ("GET", "/api/v1/sessions/activities"): LENDING,
}
