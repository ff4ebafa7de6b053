"""Languages of the public pages: negotiation, message catalogs and locale-aware formatting.

Message ids are English; ``statuspage/locale/<lang>/LC_MESSAGES/messages.po`` holds the
translations, read once at start with ``babel.messages.pofile`` (no compile step, so a plain
checkout works). English is the source language and needs no catalog. Dates, numbers and
durations are formatted with babel in the page's time zone (Asia/Jakarta, labelled "WIB").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_percent
from babel.units import format_unit
from markupsafe import Markup

from statuspage.timefmt import iso as machine_time

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "Catalog",
    "Formatter",
    "load_catalogs",
    "negotiate_language",
]

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
LOCALE_DIR = Path(__file__).with_name("locale")


@dataclass(frozen=True)
class Catalog:
    """The translations of one language; missing messages fall back to the English id."""

    language: str
    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def gettext(self, message: str) -> str:
        """The translation of ``message`` (itself when untranslated)."""
        return self.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The translation for count ``n`` (Indonesian has one plural form)."""
        forms = self.plurals.get(singular)
        if forms:
            return forms[0] if len(forms) == 1 or n == 1 else forms[1]
        return singular if n == 1 else plural

    def template_callables(self) -> dict[str, object]:
        """``_``, ``gettext`` and ``ngettext`` for a Jinja2 render (i18n ext, newstyle).

        Newstyle gettext formats the variables itself; ``Markup % kwargs`` escapes them, so a
        translated sentence with an incident name inside stays safe.
        """

        def gettext(message: str, **variables: object) -> Markup:
            text = Markup(self.gettext(message))  # noqa: S704 - catalog text is ours
            return text % variables if variables else text

        def ngettext(singular: str, plural: str, num: int, **variables: object) -> Markup:
            variables.setdefault("num", num)
            text = Markup(self.ngettext(singular, plural, num))  # noqa: S704 - catalog text
            return text % variables

        return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def load_catalogs(languages: Iterable[str] = LANGUAGES,
                  locale_dir: Path = LOCALE_DIR) -> dict[str, Catalog]:
    """A catalog per language, read from ``messages.po`` files (English needs none)."""
    catalogs: dict[str, Catalog] = {}
    for lang in languages:
        path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
        if not path.is_file():
            catalogs[lang] = Catalog(lang)
            continue
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang)
        messages: dict[str, str] = {}
        plurals: dict[str, tuple[str, ...]] = {}
        for message in po:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, tuple):
                forms = tuple(s for s in (message.string or ()) if s)
                if forms:
                    plurals[message.id[0]] = forms
            elif message.string:
                messages[str(message.id)] = str(message.string)
        catalogs[lang] = Catalog(lang, messages, plurals)
    return catalogs


def _accepted(header: str) -> list[tuple[float, str]]:
    """Language tags of an Accept-Language header with their q-values."""
    result: list[tuple[float, str]] = []
    for part in header.split(",")[:20]:  # a hostile header cannot cost more than 20 items
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag:
            result.append((quality, tag.strip().lower()))
    return result


def negotiate_language(query: str | None, accept_language: str | None,
                       available: Iterable[str] = LANGUAGES,
                       default: str = DEFAULT_LANGUAGE) -> str:
    """The page language: ``?lang=`` wins, then Accept-Language, then the default.

    >>> negotiate_language(None, "en-US,en;q=0.9,id;q=0.8", ("id", "en"))
    'en'
    >>> negotiate_language("id", "en", ("id", "en"))
    'id'
    """
    langs = tuple(available)
    fallback = default if default in langs else langs[0]
    if query:
        q = query.strip().lower()[:8]
        if q in langs:
            return q
    if accept_language:
        best: tuple[float, str] | None = None
        for quality, tag in _accepted(accept_language):
            primary = tag.split("-", 1)[0]
            # "in" is the withdrawn ISO code for Indonesian, still sent by some old Android
            primary = "id" if primary == "in" else primary
            if primary in langs and quality > 0 and (best is None or quality > best[0]):
                best = (quality, primary)
        if best is not None:
            return best[1]
    return fallback


@dataclass(frozen=True)
class Formatter:
    """Dates, numbers and durations for one language in the page's time zone."""

    language: str
    time_zone: str = "Asia/Jakarta"
    time_zone_label: str = "WIB"

    @property
    def zone(self) -> ZoneInfo:
        """The page's time zone."""
        return ZoneInfo(self.time_zone)

    def datetime(self, value: dt.datetime | None) -> str:
        """``3 Sep 2024, 14.05 WIB`` (id) / ``Sep 3, 2024, 14:05 WIB`` (en)."""
        if value is None:
            return ""
        pattern = "d MMM y, HH.mm" if self.language == "id" else "MMM d, y, HH:mm"
        text = format_datetime(value, pattern, tzinfo=self.zone, locale=self.language)
        return f"{text} {self.time_zone_label}"

    def time(self, value: dt.datetime | None) -> str:
        """``14.05 WIB``."""
        if value is None:
            return ""
        pattern = "HH.mm" if self.language == "id" else "HH:mm"
        text = format_datetime(value, pattern, tzinfo=self.zone, locale=self.language)
        return f"{text} {self.time_zone_label}"

    def date(self, value: dt.date | dt.datetime | None, pattern: str = "medium") -> str:
        """A date; datetimes are first moved into the page's time zone."""
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(self.zone).date()
        if pattern == "medium":
            pattern = "d MMM y" if self.language == "id" else "MMM d, y"
        elif pattern == "short":
            pattern = "d MMM" if self.language == "id" else "MMM d"
        return format_date(value, pattern, locale=self.language)

    def month(self, value: dt.date) -> str:
        """``September 2024``."""
        return format_date(value, "LLLL y", locale=self.language)

    def percent(self, value: float | None, digits: int = 2) -> str:
        """``99,87%`` (id) / ``99.87%`` (en); an empty string for no data."""
        if value is None:
            return ""
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(value, pattern, locale=self.language)

    def duration(self, delta: timedelta | None) -> str:
        """Duration in words, to the minute: ``2 jam dan 15 menit`` / ``2 hours and 15 minutes``.

        Two units at most: "3 days and 4 hours" reads better than a precise list of four.
        """
        if delta is None:
            return ""
        minutes = max(0, int(delta.total_seconds() // 60))
        days, rest = divmod(minutes, 1440)
        hours, mins = divmod(rest, 60)
        parts: list[str] = []
        for amount, unit in ((days, "duration-day"), (hours, "duration-hour"),
                             (mins, "duration-minute")):
            if amount and len(parts) < 2:
                parts.append(format_unit(amount, unit, length="long", locale=self.language))
        if not parts:  # under a minute reads as one minute; nothing at all as zero
            amount = 1 if delta > timedelta(0) else 0
            return format_unit(amount, "duration-minute", length="long", locale=self.language)
        return format_list(parts, locale=self.language)

    def iso(self, value: dt.datetime | None) -> str:
        """Machine-readable time for ``<time datetime>`` (``statuspage.timefmt.iso``)."""
        return machine_time(value) or ""
