"""System images page: list, add from the inbox, retire, bmap download."""

from tests.route_policies import WORKSHOP

POLICY = {
    ("GET", "/images"): WORKSHOP,
    ("POST", "/images"): WORKSHOP,
    ("POST", "/images/{image_id:int}/retire"): WORKSHOP,
    ("GET", "/images/{image_id:int}/bmap"): WORKSHOP,
}
