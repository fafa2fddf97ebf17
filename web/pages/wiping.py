"""Wiping: bench stations, runs in progress, records and certificates.

Stations report through the sanitization API (web/api/sanitization.py); this page shows what
they reported, in words, and refreshes the runs in progress from `/wiping/progress.json`
(web/static/wiping.js). A record made without a device (hot-plug bench, station) is attached to
its device by scanning the device's tag into the field beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from babel.numbers import format_decimal
from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from inventory.clock import now as clock_now
from inventory.errors import Conflict, DomainError
from inventory.states import N_
from inventory.tags import TagError
from provisioning import attach, records
from provisioning.attach import AttachRecord
from provisioning.tables import (
    METHOD_TYPE_WORDS,
    METHOD_WORDS,
    STATUS_WORDS,
    VERIFY_WORDS,
    Status,
)
from web import i18n
from web.forms import form_to
from web.i18n import gettext as _
from web.roles import WORKSHOP
from web.settings import base_url
from web.tables import ApiToken

FINISHED_SHOWN = 100

UNITS = [N_("octets"), N_("Ko"), N_("Mo"), N_("Go"), N_("To")]


def _locale() -> str:
    return "fr_FR" if i18n.current_language.get() == "fr" else "en_GB"


def size_words(count: int | None) -> str:
    """250 059 350 016 → « 250,1 Go » (powers of 1000, as disk makers count)."""
    value = float(count or 0)
    unit = 0
    while value >= 1000 and unit < len(UNITS) - 1:
        value /= 1000
        unit += 1
    form = "#,##0" if unit == 0 or value >= 100 else "#,##0.#"
    return f"{format_decimal(value, format=form, locale=_locale())} {_(UNITS[unit])}"


def speed_words(bytes_per_second: float) -> str:
    if bytes_per_second <= 0:
        return _("vitesse encore inconnue")
    return _("{size}/s").format(size=size_words(int(bytes_per_second)))


def duration_words(seconds: float) -> str:
    """« 1 h 05 min », « 3 min 12 s », « 45 s »."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def words(table: dict[str, str], value: str | None) -> str:
    text = value or ""
    return _(table[text]) if text in table else text


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RunProgress(msgspec.Struct):
    """A running wipe's progress in words, as the page shows it and refreshes it."""

    id: int
    percent: float
    percent_text: str
    done_text: str
    speed_text: str
    elapsed_text: str
    left_text: str
    quiet_text: str


class ProgressOut(msgspec.Struct):
    """`/wiping/progress.json`: the runs in progress."""

    running: list[RunProgress]


def run_progress(row: dict[str, Any], now: datetime | None = None) -> RunProgress:
    """A running record's progress, measured from its heartbeats, in words."""
    now = now or clock_now()
    started = _aware(row["started_at"]) or now
    beat = _aware(row["heartbeat_at"]) or started
    size = row["size_bytes"] or 0
    done = min(row["progress_bytes"] or 0, size) if size else row["progress_bytes"] or 0
    percent = round(100 * done / size, 1) if size else 0.0
    working = (beat - started).total_seconds()
    speed = done / working if working > 0 and done else 0.0
    left = (size - done) / speed if speed > 0 else None
    return RunProgress(
        id=row["id"],
        percent=percent,
        percent_text=f"{format_decimal(percent, format='#,##0.#', locale=_locale())} %",
        done_text=_("{done} sur {size}").format(done=size_words(done), size=size_words(size)),
        speed_text=speed_words(speed),
        elapsed_text=_("depuis {duration}").format(
            duration=duration_words((now - started).total_seconds())
        ),
        left_text=(
            _("environ {duration} restantes").format(duration=duration_words(left))
            if left is not None
            else _("temps restant encore inconnu")
        ),
        quiet_text=(
            _("dernier signe il y a {duration}").format(
                duration=duration_words((now - beat).total_seconds())
            )
        ),
    )


def _record_words(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "status_text": words(STATUS_WORDS, row["status"]),
        "method_type_text": words(METHOD_TYPE_WORDS, row["method_type"]),
        "method_text": words(METHOD_WORDS, row["method"]) if row["method"] else "",
        "verification_text": words(VERIFY_WORDS, row["verification_method"]),
        "size_text": size_words(row["size_bytes"]),
    }


async def _running() -> list[dict[str, Any]]:
    now = clock_now()
    return [{**_record_words(r), "progress": run_progress(r, now)} for r in await records.running()]


async def _tokens() -> list[dict[str, Any]]:
    return (
        await ApiToken.select(ApiToken.name, ApiToken.role, ApiToken.created_at)
        .where(ApiToken.revoked_at.is_null())
        .order_by(ApiToken.name)
    )


async def _page(status_code: int = 200, **extra: Any) -> Template:
    await records.settle_abandoned()
    finished = await records.finished(FINISHED_SHOWN)
    return Template(
        "wiping.html",
        context={
            "stations": await records.stations(),
            "tokens": await _tokens(),
            "running": await _running(),
            "finished": [_record_words(r) for r in finished],
            "unattached": [_record_words(r) for r in await attach.unattached(FINISHED_SHOWN)],
            "attach_error": None,
            "attach_typed": "",
            **extra,
        },
        status_code=status_code,
    )


@get("/wiping", opt={"roles": WORKSHOP}, include_in_schema=False)
async def wiping_page() -> Template:
    return await _page()


@post("/wiping/attach", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def wiping_attach(
    request: Request, data: URLEncodedBody[dict[str, Any]]
) -> Redirect | Template:
    """Attach a record to the device whose tag was scanned; then show that device's card."""
    try:
        command = form_to(AttachRecord, data)
        row = await attach.attach(command, request.user.actor)
    except (DomainError, TagError) as error:
        record = str(data.get("record_id", ""))
        return await _page(
            409 if isinstance(error, Conflict) else 422,
            attach_error={"record_id": record, "message": str(error)},
            attach_typed=str(data.get("asset_tag", ""))[:300],
        )
    if row["status"] == Status.passed:
        await records.issue_pdf(row["id"], base_url(), request.user.actor)
    return Redirect(f"/d/{row['asset_tag']}", status_code=303)


@get("/wiping/progress.json", opt={"roles": WORKSHOP}, include_in_schema=False)
async def wiping_progress() -> ProgressOut:
    """The runs in progress, for the page's refresh: ids and their progress in words."""
    await records.settle_abandoned()
    return ProgressOut(running=[r["progress"] for r in await _running()])


ROUTES: list[Any] = [wiping_page, wiping_progress, wiping_attach]
