"""Charter versions: Markdown text in force from a date; a new text is always a new version.

Publishing takes one command, `CharterIn`, from the API, the page and scripts alike; a version
is answered as `CharterOut`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

import msgspec
from markdown_it import MarkdownIt

from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, NotFound
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


class CharterIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new charter version. Empty fields are refused by `check_version` with a sentence of
    their own, so a page and the API say the same thing."""

    title: Annotated[str, msgspec.Meta(max_length=MAX_TITLE)] = ""
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] = ""
    in_force_from: date | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "title": "Titre",
        "text": "Texte de la charte",
        "in_force_from": "Date d'entrée en vigueur",
    }


class CharterOut(msgspec.Struct):
    """A charter version; `status` (a key of STATUSES) where the list computes it."""

    id: int
    version: int
    title: str
    text: str
    in_force_from: date
    created_at: datetime
    created_by: str
    archived_at: datetime | None
    status: str | None = None


def charter_out(row: dict[str, Any]) -> CharterOut:
    return msgspec.convert(row, CharterOut, strict=False)


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
        raise FieldInvalid("title", "Donnez un titre à la charte.")
    if len(title) > MAX_TITLE:
        raise FieldInvalid("title", f"Le titre de la charte compte {MAX_TITLE} caractères au plus.")
    if not text:
        raise FieldInvalid("text", "Écrivez le texte de la charte.")
    if len(text) > MAX_TEXT:
        raise FieldInvalid("text", "Le texte de la charte compte 50 000 caractères au plus.")
    if in_force_from is None:
        raise FieldInvalid("in_force_from", "Choisissez la date d'entrée en vigueur.")
    if in_force_from < today and not first:
        raise FieldInvalid(
            "in_force_from",
            "La date d'entrée en vigueur est passée : choisissez aujourd'hui ou une date à venir.",
        )
    if in_force_from > today + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise FieldInvalid(
            "in_force_from",
            f"La date d'entrée en vigueur est à plus de {MAX_YEARS_AHEAD} ans : vérifiez l'année.",
        )
    return title, text, in_force_from


async def publish(command: CharterIn, actor: str) -> dict[str, Any]:
    """A new charter version; earlier versions stay as they were (loans froze their text)."""
    command = checked(command)
    async with write_transaction(Charter):
        last = await Charter.select(Charter.version).order_by(Charter.version, ascending=False)
        title, text, in_force_from = check_version(
            command.title, command.text, command.in_force_from, date.today(), first=not last
        )
        version = (last[0]["version"] if last else 0) + 1
        rows = await Charter.insert(
            Charter(
                version=version,
                title=title,
                text=text,
                in_force_from=in_force_from,
                created_at=now(),
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


async def create_version(
    title: str, text: str, in_force_from: date | None, actor: str
) -> dict[str, Any]:
    """`publish` for scripts, the demo and tests, which name the fields one by one."""
    return await publish(CharterIn(title=title, text=text, in_force_from=in_force_from), actor)


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
