"""Measurements made elsewhere, brought in for a deadline's evidence (``statuspage evidence
import FILE --source LABEL``), and the rule that retention never erases evidence.

The file is JSON Lines in the probe-agent result format (``probes.ProbeResult.to_dict``), any
time range. The import is all or nothing: every line is parsed and checked first and the first
problem is reported with its line number and field; only then are all rows written, in one
transaction, each carrying its ``source`` label, which the notice shows. Imported rows go to
the raw results only (the evidence engine reads those); the page's own uptime bars stay what
this page measured. A label is used once, so importing the same file twice cannot double-count.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from probes import ProbeResult
from statuspage.config import StatusConfig
from statuspage.db import bump_changes
from statuspage.models import Deadline, DeadlineNotice, ProbeResultRow, utcnow
from statuspage.store.audit import Actor, record_audit

__all__ = ["EvidenceImportError", "ImportSummary", "check_label", "import_results",
           "parse_lines", "protected_windows"]

MAX_LINES = 2_000_000
MAX_LINE_BYTES = 64 * 1024
_LABEL = re.compile(r"^[\w .:/()@+-]{1,64}$")
#: After its closing, a deadline that never reached at_risk is evaluated this long; its
#: measurements are protected until then (a notice, once drafted, protects until final).
EVALUATION_TAIL = timedelta(days=2)


class EvidenceImportError(ValueError):
    """A refused import; the message names the line and the field."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote."""

    source: str
    count: int
    first: datetime | None
    last: datetime | None


def check_label(label: str) -> str:
    """A source label: 1-64 letters, digits, spaces and ``. : / ( ) @ + - _``."""
    if not _LABEL.match(label) or any(unicodedata.category(c) == "Cc" for c in label):
        raise EvidenceImportError("--source: 1 to 64 letters, digits, spaces or . : / ( ) @ + - _")
    return label.strip()


def parse_lines(lines: Iterable[bytes], config: StatusConfig, now: datetime
                ) -> list[ProbeResult]:
    """Every result of the file, or EvidenceImportError naming the first bad line and field."""
    probes = {p.name: p for p in config.probes}
    results: list[ProbeResult] = []
    for number, raw in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise EvidenceImportError(f"more than {MAX_LINES} lines; split the file")
        if len(raw) > MAX_LINE_BYTES:
            raise EvidenceImportError(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvidenceImportError(f"line {number}: not JSON ({exc.msg})") from None
        except UnicodeDecodeError:
            raise EvidenceImportError(f"line {number}: not UTF-8 text") from None
        try:
            result = ProbeResult.from_dict(data)
        except ValueError as exc:
            raise EvidenceImportError(f"line {number}: {exc}") from None
        probe = probes.get(result.probe)
        if probe is None:
            raise EvidenceImportError(f"line {number}: probe: unknown probe {result.probe!r} "
                               f"(configured: {', '.join(sorted(probes)) or 'none'})")
        if probe.kind != result.kind:
            raise EvidenceImportError(f"line {number}: kind: probe {result.probe!r} is of kind "
                               f"{probe.kind!r}, not {result.kind!r}")
        if result.started_at > now + timedelta(minutes=5):
            raise EvidenceImportError(f"line {number}: started_at: in the future "
                               f"({result.started_at.isoformat()})")
        results.append(result)
    if not results:
        raise EvidenceImportError("the file holds no results")
    return results


def import_results(session: Session, config: StatusConfig, results: list[ProbeResult],
                   source: str, actor: Actor | None = None) -> ImportSummary:
    """Write parsed results with their source label (one transaction, audited)."""
    source = check_label(source)
    already = session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)
                             .where(ProbeResultRow.source == source))
    if already:
        raise EvidenceImportError(f"--source: {source!r} was used by an earlier import "
                           f"({already} results); choose another label")
    component_of = {p.name: p.component for p in config.probes}
    rows = [{"probe": r.probe, "kind": r.kind, "component_id": component_of[r.probe],
             "location": r.location, "started_at": r.started_at, "outcome": r.outcome,
             "error_class": r.error_class, "message": r.message,
             "total_ms": float(r.total_ms), "phases": dict(r.phases), "source": source}
            for r in results]
    for start in range(0, len(rows), 5000):
        table = cast(sa.Table, ProbeResultRow.__table__)  # core insert: one executemany
        session.execute(sa.insert(table), rows[start:start + 5000])
    first = min(r.started_at for r in results)
    last = max(r.started_at for r in results)
    record_audit(session, actor or Actor(None, "cli"), "evidence.import", target=source,
                 detail={"count": len(rows), "first": first.isoformat(),
                         "last": last.isoformat()})
    bump_changes(session)
    return ImportSummary(source, len(rows), first, last)


def protected_windows(session: Session, now: datetime | None = None
                      ) -> list[tuple[datetime, datetime]]:
    """Deadline windows whose raw results retention must keep: until the notice is final,
    or, when no notice was drafted, until the evaluation has ended."""
    now = now or utcnow()
    states = dict(session.execute(sa.select(DeadlineNotice.deadline_id, DeadlineNotice.state))
                  .all())
    windows = []
    for d in session.scalars(sa.select(Deadline).limit(1000)):
        state = states.get(d.id)
        start = d.closes_at - timedelta(days=d.window_days)
        if state == "final":
            continue
        if state is None and now > d.effective_close + EVALUATION_TAIL:
            continue
        windows.append((start, d.effective_close))
    return windows
