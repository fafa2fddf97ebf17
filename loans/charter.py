"""Charter versions: Markdown text in force from a date; a new text is always a new version."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from markdown_it import MarkdownIt

from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, Invalid, NotFound
from inventory.states import N_
from loans.tables import Charter

# Raw HTML in the Markdown is escaped, never passed through: the charter goes into a PDF and pages.
_markdown = MarkdownIt("commonmark", {"html": False})
MAX_TITLE = 200
MAX_TEXT = 50_000
MAX_YEARS_AHEAD = 3

# A version's status in words, from its dates and the version in force today.
STATUSES = {
    "in_force": N_("en vigueur"),
    "scheduled": N_("programmée"),
    "replaced": N_("remplacée"),
    "archived": N_("archivée"),
}


class CharterInvalid(Invalid):
    """A refused charter version; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def to_html(text: str) -> str:
    return _markdown.render(text)


def check_version(
    title: str, text: str, in_force_from: date | None, today: date, first: bool
) -> tuple[str, str, date]:
    """The title, text and date of a new version, or a sentence naming the wrong field.

    A version cannot start in the past: loans already signed would seem to have been signed under
    it. Only the very first version may be back-dated (recording the charter already in use)."""
    title, text = (title or "").strip(), (text or "").strip()
    if not title:
        raise CharterInvalid("title", "Donnez un titre à la charte.")
    if len(title) > MAX_TITLE:
        raise CharterInvalid(
            "title", f"Le titre de la charte compte {MAX_TITLE} caractères au plus."
        )
    if not text:
        raise CharterInvalid("text", "Écrivez le texte de la charte.")
    if len(text) > MAX_TEXT:
        raise CharterInvalid("text", "Le texte de la charte compte 50 000 caractères au plus.")
    if in_force_from is None:
        raise CharterInvalid("in_force_from", "Choisissez la date d'entrée en vigueur.")
    if in_force_from < today and not first:
        raise CharterInvalid(
            "in_force_from",
            "La date d'entrée en vigueur est passée : choisissez aujourd'hui ou une date à venir.",
        )
    if in_force_from > today + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise CharterInvalid(
            "in_force_from",
            f"La date d'entrée en vigueur est à plus de {MAX_YEARS_AHEAD} ans : vérifiez l'année.",
        )
    return title, text, in_force_from


async def create_version(
    title: str, text: str, in_force_from: date | None, actor: str
) -> dict[str, Any]:
    """A new charter version; earlier versions stay as they were (loans froze their text)."""
    async with write_transaction(Charter):
        last = await Charter.select(Charter.version).order_by(Charter.version, ascending=False)
        title, text, in_force_from = check_version(
            title, text, in_force_from, date.today(), first=not last
        )
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
        await write_event(
            None,
            actor,
            "charter_published",
            None,
            None,
            {"version": version, "title": title, "in_force_from": in_force_from.isoformat()},
        )
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


async def versions_with_status(today: date | None = None) -> list[dict[str, Any]]:
    """Every version, newest first, each with its `status` (a key of STATUSES)."""
    today = today or date.today()
    try:
        current = (await in_force(today))["id"]
    except Conflict:
        current = None
    rows = await list_versions()
    for row in rows:
        row["status"] = status_of(row, current, today)
    return rows


def status_of(row: dict[str, Any], current_id: int | None, today: date) -> str:
    if row["archived_at"] is not None:
        return "archived"
    if row["id"] == current_id:
        return "in_force"
    if row["in_force_from"] > today:
        return "scheduled"
    return "replaced"
