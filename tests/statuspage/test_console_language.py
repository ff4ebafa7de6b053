"""The console in English too: ``?lang=en`` (remembered), Accept-Language, else Indonesian."""

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
from __future__ import annotations

from starlette.testclient import TestClient

from statuspage.views.admin.language import _english
from tests.statuspage.test_admin_support import admin, settings  # noqa: F401 - fixtures


def test_english_on_request_and_remembered(admin: TestClient) -> None:
    indonesian = admin.get("/admin").text
    assert "<h1>Dasbor</h1>" in indonesian and 'href="/admin?lang=en"' in indonesian
    english = admin.get("/admin?lang=en")
    assert '<html lang="en">' in english.text
    for text in ("<h1>Dashboard</h1>", "New incident", "Open incidents", "Log out",
                 "Schedule maintenance"):
        assert text in english.text, text
    assert "Dasbor" not in english.text
    assert admin.get("/admin").text.count("Dashboard") >= 2  # remembered in a cookie
    form = admin.get("/admin/incidents/new").text
    for text in ("Title", "Affected components", "Not affected", "Preview",
                 "Publish the incident", "Major outage", "Investigating"):
        assert text in form, text
    assert "<h1>Dasbor</h1>" in admin.get("/admin?lang=id").text


def test_login_page_follows_the_browser(admin: TestClient) -> None:
    admin.cookies.clear()
    page = admin.get("/admin/login", headers={"accept-language": "en-US,en;q=0.9"}).text
    assert "Log in to the console" in page and "Password" in page
    assert "Masuk ke konsol" in admin.get("/admin/login").text


def test_every_english_text_is_used() -> None:
    """The catalog holds no text the console no longer shows (a typo would never translate)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = "".join(p.read_text("utf-8") for p in (root / "templates" / "admin").glob("*.html"))
    sources += (root / "statuspage" / "views" / "admin" / "common.py").read_text("utf-8")
    unused = [text for text in _english() if text not in sources]
    assert unused == []


def english_page(admin: TestClient, path: str, present: tuple[str, ...],
                 absent: tuple[str, ...]) -> str:
    """The console page at ``path`` in English: every ``present`` text, no ``absent`` one."""
    page = admin.get(path + "?lang=en").text
    for text in present:
        assert text in page, text
    for text in absent:
        assert text not in page, text
    return page


def test_incident_list_and_maintenance_in_english(admin: TestClient) -> None:
    english_page(admin, "/admin/incidents", ("<h1>All incidents</h1>", "No incidents yet."),
                 ("Semua insiden", "Belum ada insiden."))
    english_page(admin, "/admin/maintenance",
                 ("<h1>Scheduled maintenance</h1>", "<h2>Schedule</h2>", "Start (",
                  "Start and finish automatically on schedule", "No maintenance yet."),
                 ("Pemeliharaan terjadwal", "Jadwalkan"))
    assert "<h1>Pemeliharaan terjadwal</h1>" in admin.get("/admin/maintenance?lang=id").text


def test_webhooks_deadlines_and_accounts_in_english(admin: TestClient) -> None:
    english_page(admin, "/admin/webhooks",
                 ("<h1>Webhooks for agencies</h1>", "No subscriptions yet.",
                  "Components (empty: all)", "Add a subscription", "Endpoint URL"),
                 ("Webhook untuk instansi", "Belum ada langganan."))
    english_page(admin, "/admin/deadlines",
                 ("<h1>Deadlines</h1>", "New deadline", "Components applicants need",
                  '<button type="submit">Save</button>',
                  "Critical window (days before closing)"),
                 ("Komponen yang dibutuhkan pelamar", ">Simpan<"))
    assert "Make a token" in admin.get("/admin/tokens").text  # the choice is remembered
    assert "Add an operator" in admin.get("/admin/operators").text
    assert "Change password" in admin.get("/admin/account").text
    indonesian = admin.get("/admin/webhooks?lang=id").text
    assert "Webhook untuk instansi" in indonesian and "Belum ada langganan." in indonesian
