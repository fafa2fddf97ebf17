"""A partner's pages: its own organisation only (the organisation comes from the account)."""

from tests.route_policies import PARTNERS

POLICY = {
    ("GET", "/partner"): PARTNERS,
    ("GET", "/partner/sign/{link_id:int}"): PARTNERS,
    ("POST", "/partner/sign/{link_id:int}"): PARTNERS,
}
