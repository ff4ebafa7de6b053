"""A reconstruction of the September 2024 CASN window for ``statuspage serve --demo``.

Not measurements: a shape built by hand from public reports (see /DOMAIN notes in the README):
purchases failing from Tuesday 3 September ("connection refused" by an internal account
service), slow and failing stamping under the surge, a queueing system from 5 September, BKN's
extension to 10 September 23:59 WIB announced on 5 September, recovery over the weekend. Each
5-minute interval gets ten transactions per component with a fixed number of successes, so the
figures are the same on every machine. The rows carry the source label
``reconstruction: public reports Sep 2024``, which makes every page and PDF that shows them
say it is a reconstruction. The notice history is replayed through the real evaluation.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.config import StatusConfig
from statuspage.models import Deadline, ProbeResultRow
from statuspage.notice_text import RECONSTRUCTION_PREFIX
from statuspage.store.audit import Actor
from statuspage.store.deadline_records import record_decision
from statuspage.store.notices import note_decision, publish_notice, refresh_notice

__all__ = ["SOURCE", "seed_casn_reconstruction"]

log = logging.getLogger(__name__)
SOURCE = RECONSTRUCTION_PREFIX + " public reports Sep 2024"
DEADLINE_ID = "casn-2024"
WIB = ZoneInfo("Asia/Jakarta")
PER_INTERVAL = 10
ACTOR = Actor("demo", "system")


def _shares(day: date, hour: int) -> tuple[float, float]:
    """(purchase, stamping) success share for a WIB day and hour, from the public reports."""
    if day < date(2024, 9, 3) or (day == date(2024, 9, 3) and hour < 8):
        return 1.0, 1.0
    table = {3: (0.2, 0.7), 4: (0.3, 0.6), 5: (0.4, 0.7), 6: (0.5, 0.6), 7: (0.7, 0.8),
             8: (0.9, 1.0)}
    purchase, stamping = table.get(day.day, (1.0, 1.0))
    if day.day == 4 and hour < 6:  # night: fewer applicants, the queue drains
        purchase, stamping = 0.6, 0.8
    if day.day == 5 and hour >= 20:  # paper stamps allowed from 20:00 WIB: less load
        purchase, stamping = 0.5, 0.8
    return purchase, stamping


def _rows(start: datetime, end: datetime, probes: dict[str, tuple[str, str]]
          ) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    at = start
    while at < end:
        local = at.astimezone(WIB)
        shares = _shares(local.date(), local.hour)
        for (component, (probe, kind)), share in zip(probes.items(), shares, strict=True):
            good = round(share * PER_INTERVAL)
            for n in range(PER_INTERVAL):
                when = at + timedelta(seconds=30 * n)
                ok = n < good
                slow = not ok and component == "pembubuhan"
                rows.append({
                    "probe": probe, "kind": kind, "component_id": component,
                    "location": "rekonstruksi", "started_at": when,
                    "outcome": "ok" if ok else ("degraded" if slow else "failed"),
                    "error_class": None if ok else ("slow" if slow else "connection_refused"),
                    "message": None if ok else ("stamping took 45 s" if slow else
                                                "connection refused by account service"),
                    "total_ms": 2500.0 if ok else (45000.0 if slow else 300.0),
                    "phases": {}, "source": SOURCE})
        at += timedelta(minutes=5)
    return rows


def seed_casn_reconstruction(session: Session, config: StatusConfig) -> bool:
    """Write the reconstruction and replay its notice; False when the deadline is not
    configured as in the packaged config or the reconstruction is there already."""
    deadline = session.get(Deadline, DEADLINE_ID)
    wanted = {"pembelian", "pembubuhan"}
    if deadline is None or set(deadline.components) != wanted:
        return False
    if session.scalar(sa.select(ProbeResultRow.id).where(ProbeResultRow.source == SOURCE)
                      .limit(1)) is not None:
        return False
    by_component = {p.component: (p.name, p.kind) for p in config.probes}
    probes = {c: by_component.get(c, (f"reconstruction-{c}", "http"))
              for c in ("pembelian", "pembubuhan")}
    start = deadline.closes_at - timedelta(days=deadline.window_days)
    end = datetime(2024, 9, 10, 23, 59, tzinfo=WIB).astimezone(UTC)
    rows = _rows(start, end, probes)
    for first in range(0, len(rows), 5000):
        table = cast(sa.Table, ProbeResultRow.__table__)  # core insert: one executemany
        session.execute(sa.insert(table), rows[first:first + 5000])

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2024, 9, day, hour, minute, tzinfo=WIB).astimezone(UTC)

    refresh_notice(session, config, deadline, at(3, 12))  # draft once lost time passes 1 h
    publish_notice(session, ACTOR, DEADLINE_ID,
                   "REKONSTRUKSI dari laporan publik, bukan pengamatan halaman ini. Pembelian "
                   "e-meterai gagal sejak Selasa 3 September; kami merekomendasikan perpanjangan "
                   "sesuai angka di bawah.",
                   "RECONSTRUCTION from public reports, not observations by this page. "
                   "E-meterai purchases have failed since Tuesday 3 September; we recommend the "
                   "extension below.", at(3, 13), config)
    for when in (at(5, 12),):
        refresh_notice(session, config, deadline, when)
    record_decision(session, ACTOR, DEADLINE_ID, at(10, 23, 59),
                    "Pendaftaran diperpanjang sampai 10 Sep 2024 23.59 WIB "
                    "(diumumkan 5 Sep 2024)")
    note_decision(session, config, DEADLINE_ID, at(5, 13))
    for when in (at(7, 12), at(11, 1)):
        refresh_notice(session, config, deadline, when)
    log.info("CASN 2024 reconstruction written (%d rows, labelled %r)", len(rows), SOURCE)
    return True
