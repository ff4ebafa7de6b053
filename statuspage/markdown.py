"""Safe Markdown: operators write Markdown, visitors get sanitised HTML.

markdown-it-py renders (raw HTML disabled), then nh3 (Ammonia) keeps only an allow-list of tags
and attributes and only http, https and mailto links. No script, event handler or
``javascript:`` URL survives, whatever the operator (or an attacker with a stolen token) typed.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["render_markdown", "to_plain_text"]

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_TAGS = re.compile(r"<[^>]+>")


def render_markdown(text: str) -> Markup:
    """Render Markdown to sanitised HTML, safe to embed in a page, feed or JSON field."""
    html = _md.render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def to_plain_text(text: str) -> str:
    """The Markdown's text without markup (for SMS-like summaries and feed titles)."""
    stripped = _TAGS.sub(" ", _md.render(text or ""))
    return " ".join(html.unescape(stripped).split())
