"""Sites, donors and donations."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.pagination import OffsetPagination
from litestar.params import Parameter

from inventory import archive, intake
from inventory.errors import Invalid, NotFound
from inventory.tables import Donation, Donor, Site
from web.accounts import Principal
from web.api.schemas import ArchiveIn, DonationIn, DonationOut, DonorIn, DonorOut, SiteIn, SiteOut
from web.roles import MANAGERS, STAFF, WORKSHOP

Limit = Annotated[int, Parameter(ge=1, le=500)]
Offset = Annotated[int, Parameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer


def donation_out(row: dict, tags: list[str] | None = None) -> DonationOut:
    return DonationOut(
        id=row["id"],
        donor_id=row["donor"],
        site_id=row["site"],
        received_on=row["received_on"],
        notes=row["notes"],
        weee_reference=row["weee_reference"],
        tags=tags,
    )


class SiteController(Controller):
    path = "/api/v1/sites"
    tags = ["intake"]

    @get("/", opt={"roles": STAFF})
    async def list_sites(self, include_archived: bool = False) -> list[SiteOut]:
        """Sites that take new work; `include_archived=true` lists the archived ones too."""
        query = Site.select().order_by(Site.name)
        if not include_archived:
            query = query.where(Site.archived_at.is_null())
        return [SiteOut(r["id"], r["name"], r["address"], r["phone"]) for r in await query]

    @post("/", opt={"roles": MANAGERS})
    async def create_site(self, data: SiteIn) -> SiteOut:
        r = await intake.create_site(data.name, data.address, data.phone)
        return SiteOut(r["id"], r["name"], r["address"], r["phone"])

    @post("/{site_id:int}/archive", opt={"roles": MANAGERS}, status_code=200)
    async def archive_site(
        self, site_id: int, data: ArchiveIn, principal: Principal
    ) -> dict[str, Any]:
        """Retire a site (never deleted): it leaves the forms and stays in every history."""
        return await archive.archive_site(site_id, principal.actor, data.reason)


class DonorController(Controller):
    path = "/api/v1/donors"
    tags = ["intake"]

    @get("/", opt={"roles": WORKSHOP})
    async def list_donors(
        self, limit: Limit = 100, offset: Offset = 0, include_archived: bool = False
    ) -> OffsetPagination[DonorOut]:
        """Donors that may give now; `include_archived=true` lists the archived ones too."""
        query, count = Donor.select().order_by(Donor.name), Donor.count()
        if not include_archived:
            query = query.where(Donor.archived_at.is_null())
            count = count.where(Donor.archived_at.is_null())
        rows = await query.limit(limit).offset(offset)
        items = [DonorOut(r["id"], r["name"], r["kind"], r["contact_email"]) for r in rows]
        return OffsetPagination(items=items, limit=limit, offset=offset, total=await count)

    @post("/", opt={"roles": WORKSHOP})
    async def create_donor(self, data: DonorIn) -> DonorOut:
        r = await intake.create_donor(data.name, data.kind, data.contact_email)
        return DonorOut(r["id"], r["name"], r["kind"], r["contact_email"])

    @post("/{donor_id:int}/archive", opt={"roles": MANAGERS}, status_code=200)
    async def archive_donor(
        self, donor_id: int, data: ArchiveIn, principal: Principal
    ) -> dict[str, Any]:
        """Retire a donor (never deleted): gone from intake, kept in reports and certificates."""
        return await archive.archive_donor(donor_id, principal.actor, data.reason)


class DonationController(Controller):
    path = "/api/v1/donations"
    tags = ["intake"]

    @get("/", opt={"roles": WORKSHOP})
    async def list_donations(
        self, donor: int | None = None, limit: Limit = 50, offset: Offset = 0
    ) -> OffsetPagination[DonationOut]:
        query = Donation.select().order_by(Donation.id, ascending=False)
        count = Donation.count()
        if donor is not None:
            query, count = (
                query.where(Donation.donor == donor),
                count.where(Donation.donor == donor),
            )
        rows = await query.limit(limit).offset(offset)
        items = [donation_out(r) for r in rows]
        return OffsetPagination(items=items, limit=limit, offset=offset, total=await count)

    @get("/{donation_id:int}", opt={"roles": WORKSHOP})
    async def get_donation(self, donation_id: int) -> DonationOut:
        row = await Donation.select().where(Donation.id == donation_id).first()
        if row is None:
            raise NotFound(f"Don {donation_id} inconnu.")
        return donation_out(row)

    @post("/", opt={"roles": WORKSHOP})
    async def register_donation(self, data: DonationIn, principal: Principal) -> DonationOut:
        """Register a lot; its devices get their asset tags in the same transaction."""
        if bool(data.device_count) == bool(data.devices):
            raise Invalid("Indiquez soit device_count, soit la liste devices (pas les deux).")
        specs = (
            [
                intake.DeviceSpec(kind=d.kind, brand=d.brand, model=d.model, serial=d.serial)
                for d in data.devices
            ]
            if data.devices
            else [intake.DeviceSpec(kind=data.kind)] * (data.device_count or 0)
        )
        row = await intake.register_donation(
            donor_id=data.donor_id,
            site_id=data.site_id,
            received_on=data.received_on,
            devices=specs,
            actor=principal.actor,
            notes=data.notes,
            weee_reference=data.weee_reference,
        )
        return donation_out(row, row["tags"])
