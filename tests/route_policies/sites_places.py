"""Sites and their public description, the places export, the public donors' attestation."""

from tests.route_policies import MANAGERS

POLICY = {
    ("GET", "/sites"): MANAGERS,
    ("GET", "/sites/new"): MANAGERS,
    ("POST", "/sites/new"): MANAGERS,
    ("GET", "/sites/{site_id:int}"): MANAGERS,
    ("POST", "/sites/{site_id:int}"): MANAGERS,
    ("PUT", "/api/v1/sites/{site_id:int}"): MANAGERS,
    ("GET", "/api/v1/reports/lieux"): MANAGERS,
    ("GET", "/api/v1/reports/communes"): MANAGERS,
    ("GET", "/reports/donors/{donor_id:int}/attestation"): MANAGERS,
}
