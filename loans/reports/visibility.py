"""Who may read which programme's report, and the report computed for them.

Coordinators and administrators read every programme; a funder account reads the programmes
linked to it on the accounts page, and nothing else; a funder's bearer token is linked to no
account, so it reads none. The links are kept by the web layer (table `funder_programme`): the
caller reads them and passes them in a `Reader`, so this rule imports nothing from `web`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from inventory.errors import DomainError, Invalid
from loans.reports import funder
from loans.tables import Programme

READ_ALL = frozenset({"coordinator", "admin"})
FUNDER = "funder"


class NotVisible(DomainError):
    """A report the caller may not read (HTTP 403)."""

    status_code = 403


@dataclass(frozen=True)
class Reader:
    """Who asks for a report: their role and, for a funder account, its linked programmes."""

    role: str
    programme_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, role: str, programme_ids: Iterable[int] = ()) -> Reader:
        return cls(str(role), frozenset(programme_ids))


def visible_ids(reader: Reader) -> frozenset[int] | None:
    """The programmes this reader may see (None: all of them)."""
    if reader.role in READ_ALL:
        return None
    if reader.role == FUNDER:
        return reader.programme_ids
    return frozenset()


async def programmes_visible_to(reader: Reader) -> list[dict[str, Any]]:
    """The programmes (id, name, funder) this reader may report on, by name."""
    query = Programme.select(Programme.id, Programme.name, Programme.funder).order_by(
        Programme.name
    )
    ids = visible_ids(reader)
    if ids is None:
        return await query
    return await query.where(Programme.id.is_in(sorted(ids))) if ids else []


def may_read_programme(reader: Reader, programme_id: int) -> bool:
    ids = visible_ids(reader)
    return ids is None or programme_id in ids


def day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{what} : date attendue au format AAAA-MM-JJ.") from None


def allowed_programme(reader: Reader, programme: str) -> int | None:
    """The programme id asked for ("" or "all": every programme), if this reader may see it."""
    programme = programme.strip()
    wanted = None if programme in ("", "all") else programme
    if wanted is not None and not wanted.isdigit():
        raise Invalid("Programme : numéro attendu, ou « all » pour tous les programmes.")
    if visible_ids(reader) is not None and (
        wanted is None or not may_read_programme(reader, int(wanted))
    ):
        raise NotVisible("Un financeur ne voit que le rapport de son programme.")
    return int(wanted) if wanted is not None else None


async def compute(reader: Reader, programme: str, start: str, end: str) -> funder.FunderReport:
    """The funder report this reader asked for (page and API alike), or why not."""
    programme_id = allowed_programme(reader, programme)
    return await funder.funder_report(programme_id, day(start, "Début"), day(end, "Fin"))
