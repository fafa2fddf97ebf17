"""Dates, numbers and money as people read them, in the request's language (Babel)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency, format_decimal

from web import i18n
from web.vocabulary import LABELS

PARIS = ZoneInfo("Europe/Paris")


def _locale() -> str:
    return "fr_FR" if i18n.current_language.get() == "fr" else "en_GB"


def _as_date(value: date | datetime | str | None) -> date | datetime | None:
    if isinstance(value, str) and value:
        text = value.replace("Z", "+00:00")
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    return value or None


def format_date(value: date | datetime | str | None, form: str = "medium") -> str:
    """30 nov. 2026 (French) or 30 Nov 2026 (English); empty for no date."""
    parsed = _as_date(value)
    if parsed is None:
        return ""
    if isinstance(parsed, datetime):
        parsed = parsed.date() if parsed.tzinfo is None else parsed.astimezone().date()
    return babel_date(parsed, format=form, locale=_locale())


def format_datetime(value: datetime | str | None, form: str = "medium") -> str:
    """30 nov. 2026, 14:05:00 in the workshop's time zone; empty for no moment."""
    parsed = _as_date(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, datetime):
        return format_date(parsed, form)
    return babel_datetime(parsed, format=form, tzinfo=PARIS, locale=_locale())


def euros(cents: int | None) -> str:
    """An amount kept in cents, shown as 35,00 € (French) or €35.00 (English)."""
    return format_currency((cents or 0) / 100, "EUR", locale=_locale())


def number(value: float | int | None, form: str | None = None) -> str:
    """1 234,5 in French, 1,234.5 in English."""
    return format_decimal(value or 0, format=form, locale=_locale())


def label(value: object, vocabulary: str) -> str:
    """The words for an internal identifier (a state, an event kind, a reason), translated."""
    text = "" if value is None else str(value)
    words = LABELS.get(vocabulary, {}).get(text)
    return i18n.gettext(words) if words else text


FILTERS = {
    "format_date": format_date,
    "format_datetime": format_datetime,
    "euros": euros,
    "number": number,
    "label": label,
}
