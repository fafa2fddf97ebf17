"""Imaging page routes added with issue 12 (the older /imaging routes are in the main policy)."""

from tests.route_policies import WORKSHOP

POLICY = {
    ("GET", "/imaging/jobs.json"): WORKSHOP,
}
