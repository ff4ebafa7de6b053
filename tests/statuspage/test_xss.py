# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Hostile titles and Markdown posted through the console and the API reach no visitor as code.

Checked on the public page, an incident page, the history page, the console, the public JSON
API and both feeds. HTML is checked as a parsed document (tags and attributes), not by string
search, so escaped text that merely mentions ``<script>`` is fine and live markup is not.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

from starlette.testclient import TestClient

from statuspage.settings import Settings
from tests.statuspage.test_admin_support import (
    OPERATOR,
    admin,
    eventually_contains,
    form_post,
    make_operator,
    make_token,
    reused_postgres,
    settings,
    sqlite_only,
)

_ = (admin, reused_postgres, settings)  # fixtures

PAYLOADS: list[str] = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">klik</a>',
    "[klik](javascript:alert(1))",
    "[klik](JaVaScRiPt:alert(1))",
    "[klik](&#106;avascript:alert(1))",
    "[klik](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![gambar](javascript:alert(1))",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "\"><script>alert(1)</script>",
    "' onmouseover='alert(1)",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<<script>script>alert(1)//<</script>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<input autofocus onfocus=alert(1)>",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "{{ 7*7 }} {% raw %}",
]
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "form", "input",
                  "meta", "base", "link", "body", "details", "img"}
URL_ATTRS = {"href", "src", "action", "formaction", "data", "xlink:href", "content"}


@dataclass
class Scan:
    """Tags and suspicious attributes found in an HTML document."""

    tags: Counter[str] = field(default_factory=Counter)
    handlers: list[str] = field(default_factory=list)
    bad_urls: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = Scan()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scan.tags[tag] += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.scan.handlers.append(f"{tag} {name}={value}")
            if name in URL_ATTRS and value:
                squashed = "".join(value.split()).lower()
                if squashed.startswith(("javascript:", "data:", "vbscript:")) or \
                        "url=javascript:" in squashed:
                    self.scan.bad_urls.append(f"{tag} {name}={value}")


def scan(html: str) -> Scan:
    """Parse ``html`` and collect what could run."""
    parser = _Scanner()
    parser.feed(html)
    parser.close()
    return parser.scan


def assert_inert(html: str, baseline: Scan, where: str) -> None:
    """No event handlers, no script URLs, no dangerous tags beyond the page's own."""
    # the page's own self-refresh while something is wrong (exactly this tag) is not a payload
    found = scan(html.replace('<meta http-equiv="refresh" content="60">', "", 1))
    handlers = Counter(found.handlers) - Counter(baseline.handlers)
    assert not handlers, (where, handlers)
    # the page's own (e.g. an empty ``data:,`` favicon) are in the baseline
    urls = Counter(found.bad_urls) - Counter(baseline.bad_urls)
    assert not urls, (where, urls)
    for tag in DANGEROUS_TAGS:
        assert found.tags[tag] <= baseline.tags[tag], (where, tag, found.tags[tag])


def post_everything(admin: TestClient, settings: Settings) -> list[str]:
    """Post every payload as title and body, through the console and through the API."""
    ids = []
    for n, payload in enumerate(PAYLOADS):
        response = form_post(admin, "/admin/incidents/new", "/admin/incidents/new", {
            "name": f"XSS{n} {payload}"[:300], "status": "investigating", "impact": "minor",
            "body": f"Isi {payload}\n\n**tebal** {payload}", "component.situs": "major_outage",
            "action": "create"})
        assert response.status_code == 303, (payload, response.text[:500])
        ids.append(response.headers["location"].split("/")[3].split("?")[0])
    make_operator(settings, *OPERATOR)
    auth = {"Authorization": f"Bearer {make_token(settings, OPERATOR[0])}"}
    for n, payload in enumerate(PAYLOADS):
        created = admin.post("/api/v1/incidents", headers=auth, json={
            "name": f"API{n} {payload}", "status": "identified", "impact": "major",
            "body": payload, "components": {"pembelian": "partial_outage"}})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    # an update, a resolution and a postmortem with payloads too
    first = ids[0]
    form_post(admin, f"/admin/incidents/{first}", f"/admin/incidents/{first}/resolve",
              {"body": PAYLOADS[1]})
    form_post(admin, f"/admin/incidents/{first}", f"/admin/incidents/{first}/postmortem",
              {"body": "\n\n".join(PAYLOADS), "action": "publish"})
    return ids


@sqlite_only
def test_payloads_are_inert_everywhere(admin: TestClient, settings: Settings) -> None:
    baselines = {path: scan(admin.get(path).text) for path in ("/", "/history")}
    ids = post_everything(admin, settings)
    last = f"API{len(PAYLOADS) - 1}"
    front = eventually_contains(admin, "/", last)
    assert last in front.text, "the public page never showed the posted incidents"
    assert_inert(front.text, baselines["/"], "/")
    assert "&lt;script&gt;" in front.text  # shown as text, not dropped silently
    history = eventually_contains(admin, "/history", "XSS0")
    assert_inert(history.text, baselines["/history"], "/history")
    incident_baseline = None
    for iid in (ids[0], ids[5], ids[len(PAYLOADS) + 3]):
        page = admin.get(f"/incidents/{iid}")
        assert page.status_code == 200
        incident_baseline = incident_baseline or scan(page.text.split("<main", 1)[0])
        assert_inert(page.text, incident_baseline, f"/incidents/{iid}")
    console_baseline = scan(admin.get("/admin/account").text)
    for path in ("/admin", f"/admin/incidents/{ids[0]}", f"/admin/incidents/{ids[-1]}",
                 "/admin/audit"):
        assert_inert(admin.get(path).text, console_baseline, path)


def feed_html_parts(xml: bytes, rss_description: bool) -> list[str]:
    """The parts of a feed a reader renders as HTML.

    Atom: ``content``/``summary`` with ``type="html"`` (no type means text). RSS:
    ``content:encoded`` and, since readers render it as HTML too, ``description``.
    """
    parts = []
    for el in ET.fromstring(xml).iter():  # noqa: S314 - our own feed; must be well-formed
        name = el.tag.rsplit("}", 1)[-1]
        if name in ("content", "summary") and el.get("type") in ("html", "xhtml"):
            parts.append(el.text or "")
        elif name == "encoded" or (rss_description and name == "description"):
            parts.append(el.text or "")
    return parts


@sqlite_only
def test_payloads_are_inert_in_feeds_and_json(admin: TestClient, settings: Settings) -> None:
    post_everything(admin, settings)
    for path in ("/history.atom", "/history.rss"):
        response = eventually_contains(admin, path, "API")
        assert response.status_code == 200
        # RSS readers render <description> as HTML too, so it is checked as HTML
        parts = feed_html_parts(response.content, rss_description=path.endswith(".rss"))
        assert len(parts) >= len(PAYLOADS), path
        for part in parts:
            assert_inert(part, Scan(), path)
        titles = [el.text or "" for el in ET.fromstring(response.content).iter()  # noqa: S314
                  if el.tag.rsplit("}", 1)[-1] == "title"]
        assert any("<script>" in t for t in titles)  # titles are text: kept, and XML-escaped
        assert b"<script" not in response.content

    response = eventually_contains(admin, "/api/v2/incidents.json", "API")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-content-type-options") == "nosniff"
    # the API hands out the operator's text as data (Statuspage's shape), written HTML-safe
    # (\u003c) so a consumer that pastes it into innerHTML still gets no tag from the bytes
    assert b"<script" not in response.content and b"<img" not in response.content
    incidents = json.loads(response.content)["incidents"]
    bodies = {u["body"] for i in incidents for u in i["incident_updates"]}
    assert PAYLOADS[0] in bodies
