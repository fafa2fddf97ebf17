"""Accounts page: coordinators and administrators (the rules of who may give which role are
checked by the service, see tests/test_accounts_partner_db.py)."""

from tests.route_policies import MANAGERS

POLICY = {
    ("GET", "/accounts"): MANAGERS,
    ("POST", "/accounts"): MANAGERS,
    ("GET", "/accounts/{user_id:int}"): MANAGERS,
    ("POST", "/accounts/{user_id:int}/role"): MANAGERS,
    ("POST", "/accounts/{user_id:int}/organisation"): MANAGERS,
    ("POST", "/accounts/{user_id:int}/programmes"): MANAGERS,
    ("POST", "/accounts/{user_id:int}/programmes/{programme_id:int}/remove"): MANAGERS,
}
