"""Wiping page: bench stations, runs in progress, records."""

from tests.route_policies import WORKSHOP

POLICY = {
    ("GET", "/wiping"): WORKSHOP,
    ("GET", "/wiping/progress.json"): WORKSHOP,
}
