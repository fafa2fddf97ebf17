"""Workshop pages: the repair queue and tickets, device edit and retirement (technicians)."""

from tests.route_policies import WORKSHOP, Policy

POLICY: Policy = {
    ("GET", "/workshop"): WORKSHOP,
    ("POST", "/workshop/repairs"): WORKSHOP,
    ("GET", "/workshop/tickets/{ticket_id:int}"): WORKSHOP,
    ("POST", "/workshop/tickets/{ticket_id:int}/close"): WORKSHOP,
    ("GET", "/d/{tag:str}/edit"): WORKSHOP,
    ("POST", "/d/{tag:str}/edit"): WORKSHOP,
    ("GET", "/d/{tag:str}/retire"): WORKSHOP,
    ("POST", "/d/{tag:str}/retire"): WORKSHOP,
}
