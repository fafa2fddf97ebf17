"""Sites, donors and donations."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination  # pyright: ignore[reportAttributeAccessIssue]
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inventory import archive, intake, sites
from inventory.archive import ArchivedOut, ArchiveIn
from inventory.intake import DonationIn, DonationOut, DonorIn, DonorOut, SiteIn, SiteOut
from web.accounts import Principal
from web.api.openapi import errors
from web.roles import MANAGERS, STAFF, WORKSHOP

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]  # SQL OFFSET takes a 64-bit integer


class SiteController(Controller):
    path = "/api/v1/sites"
    tags = ["intake"]

    @get("/", opt={"roles": STAFF}, responses=errors())
    async def list_sites(self, include_archived: FromQuery[bool] = False) -> list[SiteOut]:
        """Sites that take new work; `include_archived=true` lists the archived ones too."""
        return await intake.list_sites(include_archived)

    @post("/", opt={"roles": MANAGERS}, responses=errors(422))
    async def create_site(self, data: JSONBody[SiteIn]) -> SiteOut:
        """Open a site; its name is unique."""
        return await intake.add_site(data)

    @put("/{site_id:int}", opt={"roles": MANAGERS}, responses=errors(404, 422))
    async def update_site(self, site_id: FromPath[int], data: JSONBody[SiteIn]) -> SiteOut:
        """Rewrite a site's description (every field, as when it was opened)."""
        return await sites.update_site(site_id, data)

    @post(
        "/{site_id:int}/archive",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def archive_site(
        self,
        site_id: FromPath[int],
        data: JSONBody[ArchiveIn],
        principal: NamedDependency[Principal],
    ) -> ArchivedOut:
        """Retire a site (never deleted): it leaves the forms and stays in every history."""
        return await archive.retire_site(site_id, data, principal.actor)


class DonorController(Controller):
    path = "/api/v1/donors"
    tags = ["intake"]

    @get("/", opt={"roles": WORKSHOP}, responses=errors())
    async def list_donors(
        self,
        limit: Limit = 100,
        offset: Offset = 0,
        include_archived: FromQuery[bool] = False,
    ) -> OffsetPagination[DonorOut]:
        """Donors that may give now; `include_archived=true` lists the archived ones too."""
        items, total = await intake.list_donors(limit, offset, include_archived)
        return OffsetPagination(items=items, limit=limit, offset=offset, total=total)

    @post("/", opt={"roles": WORKSHOP}, responses=errors(422))
    async def create_donor(self, data: JSONBody[DonorIn]) -> DonorOut:
        """Record a donor."""
        return await intake.add_donor(data)

    @post(
        "/{donor_id:int}/archive",
        opt={"roles": MANAGERS},
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def archive_donor(
        self,
        donor_id: FromPath[int],
        data: JSONBody[ArchiveIn],
        principal: NamedDependency[Principal],
    ) -> ArchivedOut:
        """Retire a donor (never deleted): gone from intake, kept in reports and certificates."""
        return await archive.retire_donor(donor_id, data, principal.actor)


class DonationController(Controller):
    path = "/api/v1/donations"
    tags = ["intake"]

    @get("/", opt={"roles": WORKSHOP}, responses=errors())
    async def list_donations(
        self,
        donor: FromQuery[int | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> OffsetPagination[DonationOut]:
        """Lots, newest first; `donor` keeps one donor's."""
        items, total = await intake.list_donations(limit, offset, donor)
        return OffsetPagination(items=items, limit=limit, offset=offset, total=total)

    @get("/{donation_id:int}", opt={"roles": WORKSHOP}, responses=errors(404))
    async def get_donation(self, donation_id: FromPath[int]) -> DonationOut:
        """One lot."""
        return await intake.get_donation(donation_id)

    @post("/", opt={"roles": WORKSHOP}, responses=errors(422))
    async def register_donation(
        self, data: JSONBody[DonationIn], principal: NamedDependency[Principal]
    ) -> DonationOut:
        """Register a lot; its devices get their asset tags in the same transaction."""
        return await intake.receive_donation(data, principal.actor)
