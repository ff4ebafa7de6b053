"""A real ``statuspage worker`` SIGKILLed while it sends email loses nothing.

Two incident events for 400 confirmed subscribers go to a real SMTP server on loopback that
takes a few milliseconds per message, so sends are always in flight. The worker is killed with
SIGKILL three times, as soon as the server has accepted more messages since its start, then
left to finish. Every subscriber must have both messages (counted by distinct ``Message-ID``);
a duplicate (sent, then killed before it was recorded: the documented at-least-once case)
carries the same ``Message-ID``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from statuspage.db import Database
from statuspage.mail.loop import MailOptions
from statuspage.models import MailDelivery, MailSubscriber
from statuspage.settings import Settings
from statuspage.store import incidents
from tests.smtp_sink import SmtpSink
from tests.statuspage.conftest import TEST_CONFIG

pytestmark = pytest.mark.slow

SUBSCRIBERS = 400
EVENTS = 2
KILLS = 3


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    found = SmtpSink(delay_s=0.004).start()
    yield found
    found.stop()


def sent(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(MailDelivery)
                            .where(MailDelivery.state == "sent")) or 0)


def start_worker(settings: Settings, config: Path, smtp_url: str, log: Path
                 ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STATUSPAGE_DATA_DIR": str(settings.data_dir),
           "STATUSPAGE_DATABASE_URL": settings.database_url,
           "STATUSPAGE_SECRET_KEY": settings.secret_key, "STATUSPAGE_CONFIG": str(config),
           "STATUSPAGE_SMTP_URL": smtp_url, "STATUSPAGE_SMTP_TIMEOUT": "1"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "statuspage", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def test_sigkill_during_sends_loses_no_email(settings: Settings, db: Database, sink: SmtpSink,
                                            tmp_path: Path) -> None:
    config = tmp_path / "statuspage.toml"
    config.write_text(TEST_CONFIG)
    log = tmp_path / "worker.log"
    with db.session() as s:
        s.execute(sa.insert(MailSubscriber), [
            {"id": f"m{n:05d}", "email": f"user{n}@example.id", "language": "id",
             "component_ids": None, "deadline_ids": [], "state": "active",
             "confirm_nonce": "n"} for n in range(SUBSCRIBERS)])
    for n in range(EVENTS):
        with db.session() as s:
            incidents.create_incident(s, name=f"Gangguan {n}", status="investigating",
                                      impact="major", body="Kami menyelidiki.",
                                      components={"pembubuhan": "major_outage"}, notify=True,
                                      author="ops@example.id")
    rounds = []
    for _ in range(KILLS):
        before = sink.count
        worker = start_worker(settings, config, sink.url, log)
        started = time.monotonic()
        while sink.count < before + 60:  # sending: kill it mid-way
            assert worker.poll() is None, f"the worker exited on its own\n{tail(log)}"
            assert time.monotonic() < started + 60, f"no progress\n{tail(log)}"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        rounds.append(sink.count - before)
    print(f"messages accepted per round before the kill: {rounds}")
    assert sent(db) < SUBSCRIBERS * EVENTS, "killed too late to prove anything"
    worker = start_worker(settings, config, sink.url, log)
    try:
        deadline = time.monotonic() + 120
        while sent(db) < SUBSCRIBERS * EVENTS:
            assert time.monotonic() < deadline, f"only {sent(db)} sent\n{tail(log)}"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    arrived = sink.arrived
    per_recipient: dict[str, set[str]] = defaultdict(set)
    ids = set()
    for a in arrived:
        per_recipient[a.recipient].add(str(a.message["Subject"]))
        ids.add(str(a.message["Message-ID"]))
    assert len(ids) == SUBSCRIBERS * EVENTS
    assert len(per_recipient) == SUBSCRIBERS
    assert all(subjects == {f"Gangguan {n}" for n in range(EVENTS)}
               for subjects in per_recipient.values())
    duplicates = len(arrived) - len(ids)
    print(f"{KILLS} kills: {len(ids)} distinct messages, {duplicates} duplicates "
          f"(same Message-ID)")
    in_flight = MailOptions().sessions * MailOptions().batch
    assert duplicates <= KILLS * in_flight  # at most what was leased at each kill
