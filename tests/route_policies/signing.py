"""Signing links: lending staff make them; the signer downloads the signed charter by token."""

from __future__ import annotations

from tests.route_policies import LENDING, PUBLIC, Policy

POLICY: Policy = {
    ("POST", "/loans/links"): LENDING,
    ("GET", "/sign/{token:str}/charte.pdf"): PUBLIC,
}
