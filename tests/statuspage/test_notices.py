"""Notices: drafted on at_risk by the evaluation, published by an operator, updated, final."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.config import NoticesConfig
from statuspage.db import Database
from statuspage.deadline_delivery import notice_hook
from statuspage.models import NoticeUpdate, WebhookEvent
from statuspage.settings import Settings
from statuspage.store.audit import Actor
from statuspage.store.deadline_records import DeadlineError
from statuspage.store.notices import evaluate_deadlines, get_notice, publish_notice
from tests.statuspage.test_admin_support import eventually_contains
from tests.statuspage.test_deadlines_views import DEADLINE, START, add_results
from tests.statuspage.test_deadlines_views import config_text as config_text  # noqa: F401

H = timedelta(hours=1)
OPERATOR = Actor("op@example.invalid", "operator")


def run_job(settings: Settings, db: Database, now: datetime) -> int:
    return evaluate_deadlines(db.session, settings.config, now, notice_hook(settings.config))


def test_draft_publish_update_final(settings: Settings, db: Database,
                                    client: TestClient) -> None:
    # purchases fail from 30 h before the closing; at 28 h before, 2 h are lost
    add_results(db, START, DEADLINE - 28 * H, failing=(DEADLINE - 30 * H, DEADLINE))
    assert run_job(settings, db, DEADLINE - 40 * H) == 1  # window open, nothing lost yet
    with db.session() as session:
        assert get_notice(session, "casn-2024") is None
    run_job(settings, db, DEADLINE - 28 * H)
    with db.session() as session:
        notice = get_notice(session, "casn-2024")
        assert notice is not None and notice.state == "draft"
        assert notice.figures["lost_seconds"] == pytest.approx(2 * 3600)
        assert notice.figures["provisional"] is True
    assert "Deadline notice" not in client.get("/?lang=en").text  # drafts are not public
    with db.session() as session:
        with pytest.raises(DeadlineError, match="control characters"):
            publish_notice(session, OPERATOR, "casn-2024", "a\x07", "", DEADLINE - 28 * H,
                           settings.config)
    with db.session() as session:
        publish_notice(session, OPERATOR, "casn-2024", "Kami memohon maaf.", "We apologise.",
                       DEADLINE - 28 * H, settings.config, hook=notice_hook(settings.config))
    home = eventually_contains(client, "/?lang=en", "Deadline notice")
    assert "Deadline notice" in home.text and "recommended extension: 1 day(s)" in home.text
    page = eventually_contains(client, "/deadlines/casn-2024?lang=en", "We apologise.")
    assert "We apologise." in page.text and "provisional" in page.text
    # more evidence: the outage goes on to the closing -> an update; then the final summary
    add_results(db, DEADLINE - 28 * H, DEADLINE, failing=(DEADLINE - 30 * H, DEADLINE))
    run_job(settings, db, DEADLINE - 1 * H)
    run_job(settings, db, DEADLINE + 2 * H)
    with db.session() as session:
        notice = get_notice(session, "casn-2024")
        assert notice is not None and notice.state == "final"
        kinds = [u.kind for u in reversed(notice.updates)]
        assert kinds == ["drafted", "published", "update", "final"]
        assert notice.figures["recommended_extension_days"] == 2  # 30 h lost -> 2 days
        events = session.scalars(sa.select(WebhookEvent).where(
            WebhookEvent.type == "deadline.notice").order_by(WebhookEvent.id)).all()
        assert [e.payload["deadline"]["kind"] for e in events] == ["published", "update",
                                                                   "final"]
        assert events[0].component_ids == ["pembelian", "pembubuhan"]
        assert "Rekomendasi perpanjangan" in events[-1].payload["deadline"]["body"]["id"]
        first = events[0].payload["deadline"]  # what the Slack format shows of any event
        assert (first["name"], first["path"]) == ("Pendaftaran CASN 2024", "/deadlines/casn-2024")
        assert first["summary"].startswith("Pendaftaran CASN 2024: pelamar kehilangan")
    assert run_job(settings, db, DEADLINE + 3 * H) == 0  # final: no more evaluation
    report = eventually_contains(client, "/api/v1/deadlines/casn-2024/impact.json",
                                 '"state":"final"').json()
    assert report["notice"]["state"] == "final"
    assert [u["kind"] for u in report["notice"]["updates"]][0] == "final"


def test_auto_publish_switch(settings: Settings, db: Database) -> None:
    config = replace(settings.config, notices=NoticesConfig(auto_publish=True))
    add_results(db, START, DEADLINE - 28 * H, failing=(DEADLINE - 30 * H, DEADLINE))
    evaluate_deadlines(db.session, config, DEADLINE - 28 * H, notice_hook(config))
    with db.session() as session:
        notice = get_notice(session, "casn-2024")
        assert notice is not None and notice.state == "published"
        count = session.scalar(sa.select(sa.func.count()).select_from(NoticeUpdate))
        assert count == 2  # drafted, published
    assert DEADLINE.tzinfo is UTC
