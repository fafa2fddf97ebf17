"""Charter versions: Markdown text in force from a date; a new text is always a new version."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from markdown_it import MarkdownIt

from inventory.db import write_transaction
from inventory.errors import Conflict, Invalid, NotFound
from loans.tables import Charter

# Raw HTML in the Markdown is escaped, never passed through: the charter goes into a PDF and pages.
_markdown = MarkdownIt("commonmark", {"html": False})
MAX_TEXT = 50_000


def to_html(text: str) -> str:
    return _markdown.render(text)


async def create_version(title: str, text: str, in_force_from: date, actor: str) -> dict[str, Any]:
    """A new charter version; earlier versions stay as they were (loans froze their text)."""
    title, text = title.strip(), text.strip()
    if not title or len(title) > 200:
        raise Invalid("Le titre de la charte doit compter de 1 à 200 caractères.")
    if not text or len(text) > MAX_TEXT:
        raise Invalid("Le texte de la charte doit compter de 1 à 50 000 caractères.")
    async with write_transaction(Charter):
        last = await Charter.select(Charter.version).order_by(Charter.version, ascending=False)
        version = (last[0]["version"] if last else 0) + 1
        rows = await Charter.insert(
            Charter(
                version=version,
                title=title,
                text=text,
                in_force_from=in_force_from,
                created_at=datetime.now(UTC),
                created_by=actor,
            )
        ).returning(*Charter.all_columns())
    return rows[0]


async def in_force(on: date | None = None) -> dict[str, Any]:
    """The charter version in force on a date (today by default): the newest already started."""
    on = on or date.today()
    row = (
        await Charter.select()
        .where((Charter.in_force_from <= on) & Charter.archived_at.is_null())
        .order_by(Charter.in_force_from, ascending=False)
        .order_by(Charter.version, ascending=False)
        .first()
    )
    if row is None:
        raise Conflict(
            "Aucune charte de prêt n'est en vigueur : un coordinateur doit en publier une."
        )
    return row


async def get_version(version: int) -> dict[str, Any]:
    row = await Charter.select().where(Charter.version == version).first()
    if row is None:
        raise NotFound(f"Version {version} de la charte inconnue.")
    return row


async def list_versions() -> list[dict[str, Any]]:
    return await Charter.select().order_by(Charter.version, ascending=False)
