"""Markdown is rendered and nothing executable survives."""

from html.parser import HTMLParser

import pytest

from statuspage.markdown import ALLOWED_TAGS, render_markdown, to_plain_text

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[klik](javascript:alert(1))",
    "[klik](JaVaScRiPt:alert(1))",
    "[klik](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "![x](https://evil.example/x.png\" onerror=\"alert(1))",
    "<details open ontoggle=alert(1)>",
    "`<script>` in code is text",
]


class _Collector(HTMLParser):
    """Every tag and attribute an HTML string would give a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    """No script-capable tag, no event handler, no link outside http(s)/mailto."""
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert (value or "").split(":", 1)[0].lower() in ("http", "https", "mailto")


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_nothing_executable_survives(payload: str) -> None:
    assert_inert(str(render_markdown(payload)))


def test_markdown_is_rendered() -> None:
    html = str(render_markdown("**Pembelian** lambat.\n\n- satu\n- [info](https://bkn.go.id)"))
    assert "<strong>Pembelian</strong>" in html
    assert "<li>" in html
    assert 'href="https://bkn.go.id"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_plain_text_drops_markup() -> None:
    assert to_plain_text("**Gangguan** _pembayaran_ & <b>") == "Gangguan pembayaran & <b>"
