"""Words for the identifiers stored in the database, by vocabulary: `{{ value | label("event") }}`.

French here, English through the catalog. A value missing from its vocabulary is shown as is, and
the page crawl test fails on it.
"""

from __future__ import annotations

from inventory.states import KIND_LABELS_FR, STATE_LABELS_FR

LABELS: dict[str, dict[str, str]] = {
    "state": {state.value: words for state, words in STATE_LABELS_FR.items()},
    "device_kind": {kind.value: words for kind, words in KIND_LABELS_FR.items()},
}
