"""Wiping page: bench stations, runs in progress, records."""

from tests.route_policies import WORKSHOP

POLICY = {
    ("GET", "/wiping"): WORKSHOP,
    ("GET", "/wiping/progress.json"): WORKSHOP,
    ("POST", "/wiping/attach"): WORKSHOP,
    ("POST", "/api/v1/sanitization/attachments"): WORKSHOP,
}
