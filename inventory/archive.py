"""Retiring sites and donors: they are archived by an event, never deleted (invariant 9)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.table import Table

from inventory.clock import now
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid, NotFound
from inventory.tables import Donor, Site


class ArchiveIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Why a site, donor, organisation, programme or charter is retired (the event's reason)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]

    field_labels: ClassVar[dict[str, str]] = {"reason": "Motif"}


class ArchivedOut(msgspec.Struct):
    """A site or donor once archived: it stays, with the date it stopped taking new work."""

    id: int
    name: str
    archived_at: datetime


async def archive_row(
    table: type[Table],
    row_id: int,
    actor: str,
    kind: str,
    label: str,
    reason: str,
    *,
    feminine: bool = False,
    name_of: Callable[[dict[str, Any]], str] | None = None,
    check: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Set `archived_at` on one row and write `kind` in the same transaction.

    `label` names the row in sentences ("Le donateur"); `reason` says why, as every event does;
    `name_of(row)` names the row in the event (its `name` by default); `check(row)` may refuse.
    Archiving twice is refused: the first date stays.
    """
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise Invalid("Indiquez en 1 à 500 caractères pourquoi vous archivez.")
    async with write_transaction(table):
        row = await table.select().where(table._meta.primary_key == row_id).first()
        if row is None:
            raise NotFound(f"{label} n° {row_id} n'existe pas.")
        if check is not None:
            await check(row)
        if row["archived_at"] is not None:
            archived = "archivée" if feminine else "archivé"
            raise Conflict(
                f"{label} n° {row_id} est déjà {archived} depuis le {row['archived_at']:%d/%m/%Y}."
            )
        archived_at = now()
        await table.update({table.archived_at: archived_at}).where(  # type: ignore[attr-defined]
            table._meta.primary_key == row_id
        )
        name = name_of(row) if name_of else row["name"]
        await write_event(
            None, actor, kind, None, None, {"id": row_id, "name": name, "reason": reason}
        )
    return {**row, "archived_at": archived_at}


async def archive_site(site_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A closed workshop or storage place: it takes no new devices; histories keep its name."""
    return await archive_row(Site, site_id, actor, "site_archived", "Le site", reason)


async def archive_donor(donor_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A donor that gives no more: gone from intake forms, kept in reports and certificates."""
    return await archive_row(Donor, donor_id, actor, "donor_archived", "Le donateur", reason)


async def retire_site(site_id: int, data: ArchiveIn, actor: str) -> ArchivedOut:
    """`archive_site` from its command: the site's id, name and archiving date."""
    row = await archive_site(site_id, actor, data.reason)
    return ArchivedOut(id=row["id"], name=row["name"], archived_at=row["archived_at"])


async def retire_donor(donor_id: int, data: ArchiveIn, actor: str) -> ArchivedOut:
    """`archive_donor` from its command: the donor's id, name and archiving date."""
    row = await archive_donor(donor_id, actor, data.reason)
    return ArchivedOut(id=row["id"], name=row["name"], archived_at=row["archived_at"])
