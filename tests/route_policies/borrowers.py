"""Borrowers' pages: lending roles see contacts (they call families); only managers erase."""

from tests.route_policies import LENDING, MANAGERS

POLICY = {
    ("GET", "/borrowers"): LENDING,
    ("GET", "/borrowers/new"): LENDING,
    ("POST", "/borrowers/new"): LENDING,
    ("GET", "/borrowers/{borrower_id:int}"): LENDING,
    ("GET", "/borrowers/{borrower_id:int}/edit"): LENDING,
    ("POST", "/borrowers/{borrower_id:int}/edit"): LENDING,
    ("GET", "/borrowers/{borrower_id:int}/export.json"): LENDING,
    ("GET", "/borrowers/{borrower_id:int}/export.pdf"): LENDING,
    ("POST", "/borrowers/{borrower_id:int}/erase"): MANAGERS,
}
