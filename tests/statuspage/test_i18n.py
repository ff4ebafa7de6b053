"""Languages: negotiation, a complete Indonesian catalog, WIB times and durations in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract

from statuspage.i18n import Formatter, load_catalogs, negotiate_language

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_TEMPLATES = sorted([*(ROOT / "templates").glob("*.html"),
                           *(ROOT / "templates" / "mail").glob("*.*")])
PYTHON_SOURCES = [ROOT / "statuspage" / "views" / "feeds.py",
                  ROOT / "statuspage" / "mail" / "messages.py"]


@pytest.mark.parametrize(("query", "header", "expected"), [
    (None, None, "id"),
    ("en", None, "en"),
    ("EN", "id", "en"),
    ("id", "en-US,en;q=0.9", "id"),
    ("fr", "en", "en"),
    (None, "en-GB,en;q=0.8", "en"),
    (None, "fr-FR,fr;q=0.9,en;q=0.5,id;q=0.7", "id"),
    (None, "in-ID", "id"),
    (None, "en;q=0", "id"),
    (None, "de, fr", "id"),
    (None, "en;q=abc", "id"),
])
def test_negotiate_language(query: str | None, header: str | None, expected: str) -> None:
    assert negotiate_language(query, header, ("id", "en")) == expected


def _template_messages() -> set[str]:
    found: set[str] = set()
    for path in PUBLIC_TEMPLATES:
        with path.open("rb") as fh:
            for _line, message, _comments, _context in extract(
                    "jinja2.ext:babel_extract", fh, options={"extensions": "jinja2.ext.i18n"}):
                found.add(message if isinstance(message, str) else message[0])
    for path in PYTHON_SOURCES:
        with path.open("rb") as fh:
            for _line, message, _comments, _context in extract("python", fh):
                found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_an_indonesian_translation() -> None:
    messages = _template_messages()
    assert len(messages) > 50
    catalog = load_catalogs(("id",))["id"]
    missing = sorted(m for m in messages if m not in catalog.messages)
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    catalog = load_catalogs(("id",))["id"]
    for message, translation in catalog.messages.items():
        for name in ("%(pct)s", "%(time)s", "%(duration)s", "%(page)s", "%(name)s"):
            assert (name in message) == (name in translation), message


def test_template_gettext_escapes_variables() -> None:
    gettext = load_catalogs(("id",))["id"].template_callables()["_"]
    assert str(gettext("since %(time)s", time="<b>")) == "sejak &lt;b&gt;"  # type: ignore[operator]


AT = datetime(2024, 9, 3, 2, 12, tzinfo=UTC)  # 09.12 WIB


@pytest.mark.parametrize(("lang", "expected"), [
    ("id", "3 Sep 2024, 09.12 WIB"), ("en", "Sep 3, 2024, 09:12 WIB")])
def test_datetime_in_jakarta(lang: str, expected: str) -> None:
    assert Formatter(lang).datetime(AT) == expected


@pytest.mark.parametrize(("lang", "delta", "expected"), [
    ("id", timedelta(hours=2, minutes=15), "2 jam dan 15 menit"),
    ("en", timedelta(hours=1, minutes=30), "1 hour and 30 minutes"),
    ("id", timedelta(days=1, hours=7, minutes=18), "1 hari dan 7 jam"),
    ("en", timedelta(seconds=20), "1 minute"),
    ("id", timedelta(minutes=45), "45 menit"),
    ("en", timedelta(0), "0 minutes"),
])
def test_duration_in_words(lang: str, delta: timedelta, expected: str) -> None:
    assert Formatter(lang).duration(delta) == expected


def test_percent_and_month() -> None:
    assert Formatter("id").percent(0.99873) == "99,87%"
    assert Formatter("en").percent(0.99873) == "99.87%"
    assert Formatter("id").percent(None) == ""
    assert Formatter("id").month(AT.date()) == "September 2024"
