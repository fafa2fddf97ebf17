"""The self-audit (`reemploi check`, `/check`): every domain's checks over the whole database
and data directory, as one list of violations (DESIGN section 2)."""

from __future__ import annotations

from piccolo.conf.apps import Finder

from inventory.audit import Violation, audit_devices, dangling_references
from loans import audit as loans_audit
from loans import documents
from provisioning.audit import audit_certificates, audit_jobs


async def audit() -> list[Violation]:
    """Every violation found, devices first, then loans, certificates, files and references."""
    found = await audit_devices()
    found += await loans_audit.audit_open_loans()
    loan_found, loan_files = await loans_audit.audit_loan_documents()
    found += loan_found
    certificate_found, certificate_files = await audit_certificates()
    found += certificate_found
    found += await audit_jobs()
    found += loans_audit.unreferenced_files(documents.folder(), loan_files | certificate_files)
    found += await loans_audit.audit_borrowers()
    found += await loans_audit.audit_sessions()
    found += await loans_audit.audit_memberships_deposits()
    found += await dangling_references(Finder().get_table_classes())
    return found
