"""The public pages as a visitor gets them: language, content, accessibility basics, size."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.demo import seed_demo
from statuspage.models import utcnow
from statuspage.settings import Settings
from statuspage.views.public import day_ranges, sparkline
from tests.statuspage.test_admin_support import app_services
from tests.statuspage.test_store_public import add_incident


class Outline(HTMLParser):
    """Collects landmarks, headings, links with rel=alternate and the html lang."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[int] = []
        self.alternates: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = values.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "link" and values.get("rel") == "alternate" and values.get("type"):
            self.alternates.append(str(values.get("type")))


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def test_home_in_indonesian_by_default(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Semua sistem beroperasi normal" in r.text
    assert "Beroperasi normal" in r.text and "Pembelian kuota" in r.text
    doc = outline(r.text)
    assert doc.lang == "id"
    assert {"header", "nav", "main", "footer"} <= set(doc.tags)
    assert doc.headings[0] == 1 and doc.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(doc.headings, doc.headings[1:], strict=False))
    assert "application/rss+xml" in doc.alternates and "application/atom+xml" in doc.alternates
    assert 'href="/?lang=en"' in r.text and "WIB" in r.text


LANGUAGE_CASES = [
    ("?lang=en", "", "All Systems Operational"),
    ("", "en-US,en;q=0.9", "All Systems Operational"),
    ("?lang=id", "en-US,en;q=0.9", "Semua sistem beroperasi normal"),
    ("?lang=xx", "", "Semua sistem beroperasi normal"),
]


def test_language_choice(client: TestClient) -> None:
    for query, header, expected in LANGUAGE_CASES:
        r = client.get("/" + query, headers={"Accept-Language": header} if header else {})
        assert expected in r.text, (query, header)
        assert r.headers["vary"] == "Accept-Encoding, Accept-Language"
    text = client.get("/?lang=en").text
    assert '<html lang="en">' in text
    assert 'href="/history?lang=en"' in text and 'href="/?lang=id"' in text


def check_active_incident_with_timeline(client: TestClient, db: Database) -> None:
    incident = add_incident(db, "Pembelian e-meterai gagal", impact="critical",
                            started_at=utcnow() - timedelta(hours=2, minutes=5),
                            components={"pembelian": "major_outage"},
                            updates=[("investigating", "Kami **menyelidiki**."),
                                     ("identified", "<script>alert(1)</script> Antrean.")])
    text = client.get("/").text
    assert "Gangguan layanan besar" in text and "Gangguan total" in text
    assert "Pembelian e-meterai gagal" in text and f"/incidents/{incident}" in text
    assert "<strong>menyelidiki</strong>" in text and "<script>" not in text
    assert text.index("Antrean.") < text.index("<strong>menyelidiki")  # newest first
    assert "2 jam" in text


def check_incident_page(client: TestClient, db: Database) -> None:
    incident = add_incident(db, "Verifikasi lambat", status="resolved",
                            started_at=utcnow() - timedelta(hours=3),
                            resolved_at=utcnow() - timedelta(hours=1, minutes=30),
                            components={"situs": "degraded_performance"},
                            updates=[("investigating", "Lambat."), ("resolved", "Pulih.")])
    r = client.get(f"/incidents/{incident}?lang=en")
    assert r.status_code == 200
    assert "Verifikasi lambat" in r.text and "1 hour and 30 minutes" in r.text
    assert "Situs web" in r.text and "Degraded performance" in r.text
    assert r.text.index("Pulih.") < r.text.index("Lambat.")


def check_drafts_and_unknown_ids_are_404(client: TestClient, db: Database) -> None:
    draft = add_incident(db, "Draf", draft=True)
    for path in (f"/incidents/{draft}", "/incidents/nope", "/incidents/%3Cx%3E",
                 "/components/nope", "/history?page=9"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Halaman tidak ditemukan" in r.text
    assert "Draf" not in client.get("/history").text


def check_history_page(client: TestClient, db: Database) -> None:
    add_incident(db, "Insiden lama", status="resolved", started_at=utcnow() - timedelta(40),
                 resolved_at=utcnow() - timedelta(days=40) + timedelta(hours=1))
    text = client.get("/history").text
    assert "Riwayat insiden" in text and "Insiden lama" in text
    assert "Tidak ada insiden bulan ini." in text


def check_component_page_lists_every_day(client: TestClient) -> None:
    """Every day is there, with calm runs folded into one line (no 90-row table)."""
    r = client.get("/components/pembelian")
    assert r.status_code == 200 and "Pembelian kuota" in r.text
    assert "<tr>" not in r.text
    assert r.text.count('class="bar"') == 1 and r.text.count("<li class=s5 title=") == 90
    assert "Hari dengan gangguan" in r.text and "Semua hari" in r.text
    assert "/components/pembelian/history.atom" in r.text


TEN_COMPONENTS = "\n".join(
    f'[[components]]\nid = "c{i}"\nname = "Komponen nomor {i}"\n'
    f'group = "Grup {i % 3}"\ndescription = "Deskripsi komponen {i} yang cukup panjang."\n'
    f'[[probes]]\nname = "p{i}"\nkind = "http"\ncomponent = "c{i}"\n'
    for i in range(10))


@pytest.mark.parametrize("config_text", [
    '[page]\nname = "Status"\nurl = "http://testserver"\n' + TEN_COMPONENTS])
def test_home_under_60_kb_with_ten_components(settings: Settings, client: TestClient) -> None:
    assert seed_demo(settings)
    app_services(client).cache.clear()
    r = client.get("/")
    assert "Data contoh" in r.text and "Sample data" in r.text
    assert r.text.count('class="comp"') == 10
    assert len(r.content) < 60_000, len(r.content)


def test_day_ranges_merge_calm_days() -> None:
    from datetime import date

    from statuspage.store.public import DayUptime, IncidentRef

    days = [DayUptime(date(2024, 9, d), 100.0, 100.0) for d in range(1, 5)]
    days[2] = DayUptime(date(2024, 9, 3), 100.0, 90.0, (IncidentRef("a", "X", "major"),))
    ranges = day_ranges(days)
    assert [(r.start.day, r.end.day, r.level) for r in ranges] == [
        (4, 4, "operational"), (3, 3, "partial_outage"), (1, 2, "operational")]
    assert ranges[2].uptime == 1.0


def test_sparkline_points_and_gaps() -> None:
    assert sparkline([None, None]) is None
    line = sparkline([100.0, None, 50.0, 150.0], width=30, height=10)
    assert line is not None
    assert line.segments[0] == "0,4.0 0,4.0" and line.segments[1].startswith("20,")
    assert (line.average, line.latest) == (100, 150)


def test_incidents_on_pages(client: TestClient, db: Database) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_active_incident_with_timeline(client, db)
    check_incident_page(client, db)


def test_history_component_and_missing_pages(client: TestClient, db: Database) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_history_page(client, db)
    check_drafts_and_unknown_ids_are_404(client, db)
    check_component_page_lists_every_day(client)
