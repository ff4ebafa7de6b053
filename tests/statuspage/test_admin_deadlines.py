# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Deadlines in the console: create, edit with field errors, publish, decide (login + CSRF)."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Deadline
from statuspage.settings import Settings
from statuspage.store.notices import evaluate_deadlines, get_notice
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    eventually_contains,
    form_post,
    operator,
    reused_postgres,
    settings,
)
from tests.statuspage.test_deadlines_views import DEADLINE, START, add_results
from tests.statuspage.test_deadlines_views import config_text as config_text  # noqa: F401

NEW: dict[str, str | list[str]] = {
    "id": "sscasn-2026", "agency": "BKN", "name_id": "Pendaftaran CASN 2026",
    "name_en": "CASN 2026 registration", "closes_at": "2026-12-20T23:59",
    "opened_at": "2026-12-01T00:00", "legal_min_days": "15", "window_days": "7",
    "patience_s": "30", "demand_profile": "", "contact": "helpdesk@example.invalid",
    "component": ["pembelian", "pembubuhan"]}


def test_anonymous_and_forged_posts_are_refused(client: TestClient, db: Database) -> None:
    response = client.get("/admin/deadlines", follow_redirects=False)
    assert response.status_code == 303 and "/admin/login" in response.headers["location"]
    forged = client.post("/admin/deadlines", data=NEW, follow_redirects=False)
    assert forged.status_code in (303, 403)
    with db.session() as session:
        assert session.get(Deadline, "sscasn-2026") is None


def test_create_and_edit_in_wib(operator: TestClient, db: Database) -> None:
    created = form_post(operator, "/admin/deadlines", "/admin/deadlines", NEW)
    assert created.status_code == 303, created.text
    with db.session() as session:
        row = session.get(Deadline, "sscasn-2026")
        assert row is not None
        assert row.closes_at.isoformat() == "2026-12-20T16:59:00+00:00"  # 23:59 WIB
    bad = form_post(operator, "/admin/deadlines/sscasn-2026", "/admin/deadlines/sscasn-2026",
                    {**NEW, "opened_at": "2026-12-25T00:00", "window_days": "many"})
    assert bad.status_code == 422
    assert "ends before it starts" in bad.text or "whole number" in bad.text
    assert 'value="many"' in bad.text  # what was typed is kept
    with db.session() as session:
        row = session.get(Deadline, "sscasn-2026")
        assert row is not None and row.window_days == 7  # nothing half-saved
    unknown = form_post(operator, "/admin/deadlines", "/admin/deadlines",
                        {**NEW, "id": "x2", "component": ["nope"]})
    assert unknown.status_code == 422 and "unknown component(s): nope" in unknown.text


def test_publish_the_draft_and_record_the_decision(operator: TestClient, db: Database,
                                                   settings: Settings) -> None:
    add_results(db, START, DEADLINE, failing=(DEADLINE - timedelta(hours=30), DEADLINE))
    evaluate_deadlines(db.session, settings.config, DEADLINE - timedelta(minutes=5))
    page = operator.get("/admin/deadlines/casn-2024")
    assert "draft" in page.text and "Terbitkan pemberitahuan" in page.text
    assert "object at 0x" not in page.text  # the flash-message slot is not the notice
    published = form_post(operator, "/admin/deadlines/casn-2024",
                          "/admin/deadlines/casn-2024/publish",
                          {"statement_id": "Kami memohon maaf.", "statement_en": "Sorry."})
    assert published.status_code == 303
    with db.session() as session:
        notice = get_notice(session, "casn-2024")
        assert notice is not None and notice.state == "published"
    decided = form_post(operator, "/admin/deadlines/casn-2024",
                        "/admin/deadlines/casn-2024/decision",
                        {"extended_to": "2024-09-10T23:59",
                         "decision": "Diperpanjang sampai 10 Sep 2024 23.59 WIB"})
    assert decided.status_code == 303, decided.text
    public = eventually_contains(operator, "/deadlines/casn-2024?lang=en",
                                 "Diperpanjang sampai 10 Sep 2024 23.59 WIB")
    assert "Closes <time" in public.text and "Sep 10, 2024, 23:59 WIB" in public.text
    assert "BKN&#39;s decision: Diperpanjang sampai 10 Sep 2024 23.59 WIB." in public.text
