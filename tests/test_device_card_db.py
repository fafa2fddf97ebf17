"""The device card gathers what other domains know: wipes with their certificates, and loans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from inventory import devices
from loans import checkout
from provisioning.tables import SanitizationRecord
from tests.support import loan_setup, ready_devices, run, signature_png

pytestmark = pytest.mark.db


@pytest.mark.breaks_invariants(reason="a hand-made certificate number, never signed")
def test_the_card_lists_certificates_and_loans(client: Any, tokens: dict[str, str]) -> None:
    setup = run(loan_setup())
    (tag,) = run(ready_devices(1))
    device = run(devices.get_device(tag))
    disk = run(devices.device_disks(device["id"]))[0]
    now = datetime.now(UTC)
    run(
        SanitizationRecord.insert(
            SanitizationRecord(
                disk=disk["id"],
                device=device["id"],
                status="passed",
                method_type="clear",
                media_model="SSD",
                media_serial="S-TEST",
                started_at=now,
                finished_at=now,
                heartbeat_at=now,
                certificate_id="ABCD-EFGH-JKLM-NPQR",
            )
        )
    )
    request = checkout.CheckoutIn(
        borrower_id=setup["borrower"]["id"], tags=[tag], programme_id=setup["programme"]["id"]
    )
    signature = checkout.SignatureIn(
        checkout.SignatureMethod.drawn,
        signature_png(),
        "Camille Durand",
        checkout.SignerRole.self,
    )
    loan = run(checkout.checkout(request, signature, "mediatrice"))
    page = client.get(f"/d/{tag}", headers={"Authorization": f"Bearer {tokens['mediator']}"})
    assert page.status_code == 200
    assert 'href="/verify/ABCD-EFGH-JKLM-NPQR"' in page.text
    assert f'href="/loans/{loan["id"]}"' in page.text
    assert setup["borrower"]["code"] in page.text
    assert "Camille Durand" not in page.text  # the card shows the code, never the name
