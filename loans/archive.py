"""Retiring organisations, programmes and charter versions: archived by an event, never deleted."""

from __future__ import annotations

from typing import Any

from inventory.archive import archive_row
from inventory.errors import Conflict
from loans import charter
from loans.tables import Charter, Organisation, Programme


async def archive_organisation(organisation_id: int, actor: str, reason: str) -> dict[str, Any]:
    """An organisation that no longer borrows: gone from forms, kept in loans and reports."""
    return await archive_row(
        Organisation,
        organisation_id,
        actor,
        "organisation_archived",
        "L'organisation",
        reason,
        feminine=True,
    )


async def archive_programme(programme_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A finished programme: no new loans or sessions under it; its reports stay."""
    return await archive_row(
        Programme, programme_id, actor, "programme_archived", "Le programme", reason
    )


async def archive_charter(charter_id: int, actor: str, reason: str) -> dict[str, Any]:
    """Withdraw a charter version; the one in force stays until a newer version replaces it."""

    async def not_in_force(row: dict[str, Any]) -> None:
        try:
            current = await charter.in_force()
        except Conflict:
            return
        if current["id"] == row["id"]:
            raise Conflict(
                f"La version {row['version']} de la charte est en vigueur : publiez-en une "
                "nouvelle avant de l'archiver."
            )

    return await archive_row(
        Charter,
        charter_id,
        actor,
        "charter_archived",
        "La charte",
        reason,
        feminine=True,
        name_of=lambda row: f"{row['title']} (version {row['version']})",
        check=not_in_force,
    )
