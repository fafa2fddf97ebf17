"""Organisations' pages and the communes' suggestions: lending roles."""

from tests.route_policies import LENDING

POLICY = {
    ("GET", "/organisations"): LENDING,
    ("GET", "/organisations/new"): LENDING,
    ("POST", "/organisations/new"): LENDING,
    ("GET", "/organisations/communes"): LENDING,
    ("GET", "/organisations/{organisation_id:int}/edit"): LENDING,
    ("POST", "/organisations/{organisation_id:int}/edit"): LENDING,
}
