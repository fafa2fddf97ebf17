"""Piccolo tables of the loans app.

Personal data (names, contacts, addresses) lives in `BorrowerContact` only; everything else knows a
borrower by its pseudonymous code, so erasing a person deletes one row and blanks a few free texts.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from inventory.tables import Device


class Organisation(Table):
    """A school, collège, social centre or association that borrows or refers borrowers."""

    id: Serial

    name = Varchar(length=200)
    kind = Varchar(length=20)
    commune = Varchar(length=120, default="")
    insee_code = Varchar(length=5, default="")
    qpv = Boolean(default=False)
    created_at = Timestamptz()
    # Set by loans.archive: archived rows take no new work but stay in reports and histories.
    archived_at = Timestamptz(null=True, default=None)


class Borrower(Table):
    """A household or an organisation, known everywhere by its pseudonymous code."""

    id: Serial

    code = Varchar(length=20, unique=True, index=True)
    kind = Varchar(length=20)  # household | organisation
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, null=True)
    commune = Varchar(length=120, default="")
    insee_code = Varchar(length=5, default="")
    qpv_resident = Boolean(default=False)
    children_count = Integer(default=0)
    school = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, null=True)
    is_minor = Boolean(default=False)
    created_at = Timestamptz()
    anonymised_at = Timestamptz(null=True, default=None)


class BorrowerContact(Table):
    """The personal data of a borrower, apart from its code; deleted on erasure."""

    id: Serial

    borrower = ForeignKey(references=Borrower, on_delete=OnDelete.restrict, null=False, unique=True)
    full_name = Varchar(length=200, default="")
    email = Varchar(length=200, default="")
    phone = Varchar(length=40, default="")
    address = Text(default="")
    guardian_name = Varchar(length=200, default="")
    referent = Varchar(length=200, default="")


class Programme(Table):
    """A funded programme: its follow-up plan, default loan length and deposit."""

    id: Serial

    name = Varchar(length=200, unique=True)
    funder = Varchar(length=200, default="")
    starts_on = Date(null=True, default=None)
    ends_on = Date(null=True, default=None)
    followups = JSON(default=[])  # [{"label": "prise en main", "days": 7}, ...]
    default_loan_days = Integer(null=True, default=None)
    deposit_cents = Integer(default=0)
    archived_at = Timestamptz(null=True, default=None)
    # Membership: required or not, its fee, and how long it lasts (days, or the calendar year).
    membership_required = Boolean(default=False)
    membership_fee_cents = Integer(default=0)
    membership_validity = Varchar(length=20, default="days")  # days | calendar_year
    membership_days = Integer(default=365)
    # The imaging profile of the devices prepared for it (provisioning.imaging.profiles), or "".
    imaging_profile = Varchar(length=20, default="")


class Charter(Table):
    """A version of the loan charter (Markdown), in force from a date; never edited once used."""

    id: Serial

    version = Integer(unique=True)
    title = Varchar(length=200)
    text = Text()
    in_force_from = Date()
    created_at = Timestamptz()
    created_by = Varchar(length=120, default="")
    archived_at = Timestamptz(null=True, default=None)


class Document(Table):
    """A file issued or received (signed charter, scan, export), stored by its SHA-256."""

    id: Serial

    sha256 = Varchar(length=64, unique=True)
    kind = Varchar(length=30)
    media_type = Varchar(length=60, default="application/pdf")
    size_bytes = Integer(default=0)
    created_at = Timestamptz()


class Loan(Table):
    """Devices lent to a borrower under a frozen charter version."""

    id: Serial

    borrower = ForeignKey(references=Borrower, on_delete=OnDelete.restrict, null=False, index=True)
    programme = ForeignKey(references=Programme, on_delete=OnDelete.restrict, null=True)
    charter = ForeignKey(references=Charter, on_delete=OnDelete.restrict, null=False)
    charter_version = Integer()
    charter_text = Text()
    accessories = JSON(default=[])
    condition_out = Text(default="")
    due_on = Date(null=True, default=None)
    deposit_cents = Integer(default=0)
    status = Varchar(length=10, default="open", index=True)  # open | closed
    opened_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    document_sha256 = Varchar(length=64)
    created_by = Varchar(length=120)


class LoanDevice(Table):
    """A device on a loan; `returned_at` is set when it leaves the loan (return, swap, loss)."""

    id: Serial

    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=False, index=True)
    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=False, index=True)
    out_at = Timestamptz()
    returned_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=20, default="")


class Signature(Table):
    """Who signed a loan's charter, how and when; the image is a stored document."""

    id: Serial

    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=False, unique=True)
    method = Varchar(length=10)  # drawn | paper | link
    image_sha256 = Varchar(length=64)
    signer_name = Varchar(length=200)
    signer_role = Varchar(length=30)  # self | legal_guardian | school_representative
    signed_at = Timestamptz()
    staff_actor = Varchar(length=120)


class SigningLink(Table):
    """A one-time link to sign a prepared loan on one's own device; only its digest is kept."""

    id: Serial

    token_sha256 = Varchar(length=64, unique=True)
    request = JSON(default={})
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    loan_id = Integer(null=True, default=None)
    created_by = Varchar(length=120)


class DeviceReturn(Table):
    """A device handed back: the check-in checklist and the reason."""

    id: Serial

    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=False, index=True)
    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=False)
    reason = Varchar(length=10)  # end | repair | swap | lost | stolen
    charger = Boolean(default=False)
    bag = Boolean(default=False)
    damage = Boolean(default=False)
    damage_notes = Text(default="")
    police_report = Varchar(length=80, default="")
    at = Timestamptz()
    actor = Varchar(length=120)


class RepairTicket(Table):
    """A repair: fault, actions, parts and outcome; linked to the loan when lent."""

    id: Serial

    device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=False, index=True)
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=True)
    fault = Text(default="")
    actions = Text(default="")
    parts = Text(default="")
    outcome = Varchar(length=20, default="")  # "" while open | repaired | swapped
    swap_device = ForeignKey(references=Device, on_delete=OnDelete.restrict, null=True)
    opened_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    actor = Varchar(length=120)


class MediationSession(Table):
    """A follow-up session (one borrower) or a collective workshop (several)."""

    id: Serial

    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=True, index=True)
    borrower = ForeignKey(references=Borrower, on_delete=OnDelete.restrict, null=True, index=True)
    programme = ForeignKey(references=Programme, on_delete=OnDelete.restrict, null=True)
    label = Varchar(length=120, default="")
    planned_on = Date(null=True, default=None, index=True)
    status = Varchar(length=10, default="planned", index=True)
    held_on = Date(null=True, default=None)
    mediator = Varchar(length=120, default="", index=True)
    place_type = Varchar(length=30, default="")
    duration_minutes = Integer(default=0)
    themes = JSON(default=[])
    autonomy = Varchar(length=30, default="")
    notes = Text(default="")
    collective = Boolean(default=False)
    # Why a session did not happen: the person's words, or the loan's closing for planned ones.
    cancel_reason = Varchar(length=200, default="")
    # The Coop de la médiation numérique's fields (codes of loans.coop).
    admin_themes = JSON(default=[])
    demarche = Varchar(length=200, default="")
    materiel = JSON(default=[])
    redirection = Varchar(length=40, default="")
    redirection_note = Varchar(length=200, default="")
    commune_insee = Varchar(length=5, default="")
    age_band = Varchar(length=30, default="non_communique")
    gender = Varchar(length=20, default="non_communique")
    social_status = Varchar(length=20, default="non_communique")
    # A collective workshop: its level and how many came (registered borrowers and others).
    level = Varchar(length=20, default="")
    participants = Integer(default=0)


class SessionAttendee(Table):
    """A borrower who attended a collective workshop."""

    id: Serial

    session = ForeignKey(
        references=MediationSession, on_delete=OnDelete.restrict, null=False, index=True
    )
    borrower = ForeignKey(references=Borrower, on_delete=OnDelete.restrict, null=False)


class Membership(Table):
    """A borrower's membership of a programme: its fee, validity and payment status."""

    id: Serial

    borrower = ForeignKey(references=Borrower, on_delete=OnDelete.restrict, null=False, index=True)
    programme = ForeignKey(references=Programme, on_delete=OnDelete.restrict, null=True)
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=True)
    fee_cents = Integer(default=0)
    valid_from = Date()
    valid_until = Date()
    status = Varchar(length=10, default="paid")  # paid | waived | refunded
    method = Varchar(length=10, default="")  # cash | cheque | transfer | other ("" if waived)
    taken_by = Varchar(length=120)
    at = Timestamptz()


class Deposit(Table):
    """The deposit of a loan: its amount and status, changed by events only."""

    id: Serial

    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=False, unique=True)
    amount_cents = Integer(default=0)
    status = Varchar(length=10, default="paid")  # paid | waived | refunded | kept
    method = Varchar(length=10, default="")
    reason = Text(default="")  # why it was kept (or refunded in part of a dispute)
    taken_by = Varchar(length=120)
    taken_at = Timestamptz()
    changed_by = Varchar(length=120, default="")
    changed_at = Timestamptz(null=True, default=None)
