"""The worker SIGKILLed in the middle of a fan-out, five times in a row, loses nothing.

A real ``statuspage worker`` process delivers five events to 200 subscriptions on ten
loopback receivers; it is killed with SIGKILL as soon as deliveries are flowing, five times,
then left to finish. Every subscriber must have every event (counted by distinct
``webhook-id``), first arrivals in event order per subscription; duplicates (the documented
at-least-once case: sent, then killed before recording) carry the same ``webhook-id``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from statuspage.db import Database
from statuspage.models import WebhookDelivery, WebhookSubscription
from statuspage.settings import Settings
from statuspage.store.outbox import emit_event
from statuspage.webhooks.signing import new_secret
from tests.statuspage.conftest import TEST_CONFIG
from tests.webhook_receiver import Receivers

pytestmark = pytest.mark.slow

SUBSCRIPTIONS = 200
# enough work that a fast worker cannot finish it all before the five kills (with 1,000
# deliveries, one round once delivered 849 before its kill landed, leaving none to do)
EVENTS = 10
KILLS = 5


def delivered(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                            .where(WebhookDelivery.state == "delivered")) or 0)


def start_worker(settings: Settings, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STATUSPAGE_DATA_DIR": str(settings.data_dir),
           "STATUSPAGE_DATABASE_URL": settings.database_url,
           "STATUSPAGE_SECRET_KEY": settings.secret_key, "STATUSPAGE_CONFIG": str(config),
           "STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE": "true", "STATUSPAGE_WEBHOOK_TIMEOUT": "2"}
    with log.open("ab") as out:  # the worker's log, shown when a round makes no progress
        return subprocess.Popen([sys.executable, "-m", "statuspage", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def test_sigkill_mid_fanout_five_times_loses_nothing(settings: Settings, db: Database,
                                                     tmp_path: Path) -> None:
    config = tmp_path / "statuspage.toml"
    config.write_text(TEST_CONFIG)
    log = tmp_path / "worker.log"
    receivers = Receivers(count=10).start()
    try:
        with db.session() as s:
            s.execute(sa.insert(WebhookSubscription), [
                {"id": f"s{n:05d}", "url": receivers.url(f"/ok/{n}", n % 10),
                 "endpoint": f"http://127.0.0.1:{receivers.ports[n % 10]}",
                 "format": "statuspage", "language": "id", "state": "active",
                 "secret": new_secret(), "manage_digest": f"{n:064d}", "verify_attempts": 0,
                 "created_via": "test"} for n in range(SUBSCRIPTIONS)])
            for n in range(EVENTS):
                emit_event(s, "deadline.notice", {"deadline": {"id": f"d{n}"}})
        kills = 0
        rounds: list[tuple[float, int]] = []
        while kills < KILLS:
            before = delivered(db)
            worker = start_worker(settings, config, log)
            started = time.monotonic()
            while (now := delivered(db)) < before + 20:  # flowing: kill it mid-way
                assert worker.poll() is None, "the worker exited on its own"
                assert time.monotonic() < started + 60, \
                    f"no progress after a restart: {now} delivered, rounds {rounds}\n{tail(log)}"
                time.sleep(0.05)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            rounds.append((round(time.monotonic() - started, 1), delivered(db) - before))
        print(f"rounds (seconds to the kill, deliveries): {rounds}")
        assert delivered(db) < SUBSCRIPTIONS * EVENTS, "killed too late to prove anything"
        worker = start_worker(settings, config, log)
        try:
            deadline = time.monotonic() + 120
            while delivered(db) < SUBSCRIPTIONS * EVENTS:
                assert time.monotonic() < deadline, f"only {delivered(db)} delivered"
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        events = receivers.events()
        per_subscription: dict[str, list[str]] = defaultdict(list)
        for request in events:
            per_subscription[request.path].append(
                json.loads(request.body)["deadline"]["id"])
        distinct = {r.headers["webhook-id"] for r in events}
        assert len(distinct) == SUBSCRIPTIONS * EVENTS
        assert len(per_subscription) == SUBSCRIPTIONS
        for path, order in per_subscription.items():
            assert list(dict.fromkeys(order)) == [f"d{n}" for n in range(EVENTS)], path
        duplicates = len(events) - len(distinct)
        print(f"{kills} kills: {len(distinct)} distinct deliveries, {duplicates} duplicates "
              f"(same webhook-id)")
        assert duplicates <= KILLS * 200  # at most what was in flight at each kill
    finally:
        receivers.stop()
