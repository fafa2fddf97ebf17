"""Two organisations, each with loans, sessions and a class-set loan waiting to be signed:
what the partner and funder tests share (made with the services, before the test's steps)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.support import loan_setup, ready_devices, signature_png

PARTNER_PASSWORD = "mot de passe de test"


async def two_organisations() -> dict[str, Any]:
    from loans import borrowers, checkout, mediation, signing
    from loans.tables import MediationSession

    setup = await loan_setup()
    programme = setup["programme"]
    school = await borrowers.create_organisation("École Jean Moulin", "school", "Lyon", "69123")
    centre = await borrowers.create_organisation(
        "Centre social des Pentes", "social_centre", "Lyon", "69123"
    )
    school_borrower = await borrowers.create_borrower(
        borrowers.BorrowerIn(kind="organisation", organisation_id=school["id"], commune="Lyon")
    )
    centre_borrower = await borrowers.create_borrower(
        borrowers.BorrowerIn(kind="organisation", organisation_id=centre["id"], commune="Lyon")
    )
    pupil = await borrowers.create_borrower(
        borrowers.BorrowerIn(
            full_name="Léa Martinez",
            phone="06 98 76 54 32",
            school_id=school["id"],
            commune="Lyon",
            insee_code="69123",
        )
    )
    tags = await ready_devices(5)
    png = signature_png()
    centre_loan = await checkout.checkout(
        checkout.CheckoutIn(
            borrower_id=centre_borrower["id"], tags=[tags[0]], programme_id=programme["id"]
        ),
        checkout.SignatureIn("drawn", png, "Nadia Benali", "school_representative"),
        "mediatrice",
    )
    pupil_loan = await checkout.checkout(
        checkout.CheckoutIn(borrower_id=pupil["id"], tags=[tags[1]], programme_id=programme["id"]),
        checkout.SignatureIn("drawn", png, "Léa Martinez", "self"),
        "mediatrice",
    )
    first = await (
        MediationSession.select(MediationSession.id)
        .where(MediationSession.loan == pupil_loan["id"])
        .order_by(MediationSession.planned_on)
        .first()
    )
    await mediation.record_session(
        first["id"],
        mediation.SessionRecord(
            status="done",
            held_on=date.today(),
            mediator="mediatrice",
            place_type="lieu_activite",
            duration_minutes=60,
            themes=["prendre_en_main_du_materiel"],
            autonomy="entierement_accompagne",
        ),
        "mediatrice",
    )
    school_link, _ = await signing.create_link(
        checkout.CheckoutIn(
            borrower_id=school_borrower["id"], tags=tags[2:4], programme_id=programme["id"]
        ),
        "mediatrice",
    )
    centre_link, _ = await signing.create_link(
        checkout.CheckoutIn(
            borrower_id=centre_borrower["id"], tags=[tags[4]], programme_id=programme["id"]
        ),
        "mediatrice",
    )
    return {
        "programme": programme,
        "school": school,
        "centre": centre,
        "school_borrower": school_borrower,
        "centre_borrower": centre_borrower,
        "pupil": pupil,
        "tags": tags,
        "centre_loan": centre_loan,
        "pupil_loan": pupil_loan,
        "school_link": school_link,
        "centre_link": centre_link,
    }


async def link_ids() -> dict[int, int]:
    """Signing requests by borrower id → request id."""
    from loans.tables import SigningLink

    rows = await SigningLink.select(SigningLink.id, SigningLink.request).output(load_json=True)
    return {row["request"]["borrower_id"]: row["id"] for row in rows}
