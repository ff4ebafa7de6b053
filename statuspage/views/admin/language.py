"""The console in English too: ``?lang=en`` (remembered in a cookie), else the browser's
``Accept-Language``, else Bahasa Indonesia.

The console's source texts are Indonesian (its first users are Indonesian operators);
``statuspage/locale/en/LC_MESSAGES/console.po`` maps them to English, read once with babel
like the public catalogs. A text missing from the catalog shows in Indonesian.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from babel.messages.pofile import read_po
from starlette.requests import Request

from statuspage.i18n import LOCALE_DIR, negotiate_language

__all__ = ["COOKIE", "CONSOLE_LANGUAGES", "console_language", "translated", "translator"]

COOKIE = "console_lang"
CONSOLE_LANGUAGES: tuple[str, ...] = ("id", "en")


@functools.cache
def _english() -> dict[str, str]:
    path = LOCALE_DIR / "en" / "LC_MESSAGES" / "console.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    return {str(m.id): str(m.string) for m in catalog
            if m.id and m.string and not m.fuzzy and isinstance(m.id, str)}


def console_language(request: Request) -> str:
    """``?lang=`` wins, then the remembered choice, then Accept-Language (default id)."""
    query = request.query_params.get("lang")
    if query in CONSOLE_LANGUAGES:
        return query
    remembered = request.cookies.get(COOKIE)
    if remembered in CONSOLE_LANGUAGES:
        return remembered
    return negotiate_language(None, request.headers.get("accept-language"), CONSOLE_LANGUAGES)


def translator(lang: str) -> Callable[..., str]:
    """``_("Dasbor")`` -> "Dashboard" in English; ``%(name)s`` placeholders are filled."""
    messages = _english() if lang == "en" else {}

    def gettext(text: str, **values: object) -> str:
        found = messages.get(text, text)
        return found % values if values else found

    return gettext


def translated(labels: Mapping[str, str], lang: str) -> dict[str, str]:
    """A label table (status words) in ``lang``."""
    gettext = translator(lang)
    return {key: gettext(value) for key, value in labels.items()}
