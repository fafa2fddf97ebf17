"""The `reemploi` command line; each command calls the same services as the web application.

One module per area registers its commands on the group defined in `web.cli.base`.
"""

from web.cli import admin, images, inventory, labels, reports, wiping, worker
from web.cli.base import main

__all__ = ["admin", "images", "inventory", "labels", "main", "reports", "wiping", "worker"]
