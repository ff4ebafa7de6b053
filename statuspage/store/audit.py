"""The audit log: every operator action, with who, when, from where and what changed.

``record_audit`` is written in the same transaction as the change it describes, so the log never
claims a change that was rolled back. Failed logins are the exception that proves the rule: they
change nothing else, so they are committed on their own.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models.operators import AuditEntry

__all__ = ["Actor", "audit_csv", "list_audit", "record_audit"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Actor:
    """Who acts: an operator's email, how (console, API token, CLI, system) and from where."""

    __slots__ = ("address", "kind", "name", "token_id")

    def __init__(self, name: str | None, kind: str = "operator", address: str | None = None,
                 token_id: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.address = address
        self.token_id = token_id

    def __repr__(self) -> str:
        return f"Actor({self.name!r}, {self.kind!r}, {self.address!r})"


def record_audit(session: Session, actor: Actor | None, action: str, *,
                 target: str | None = None, detail: dict[str, Any] | None = None,
                 at: datetime | None = None) -> AuditEntry:
    """Append one entry (inside the caller's transaction)."""
    actor = actor or Actor(None, "system")
    if actor.token_id:
        detail = {**(detail or {}), "token_id": actor.token_id}
    entry = AuditEntry(actor=actor.name, actor_kind=actor.kind, address=actor.address,
                       action=action, target=(target or "")[:200] or None, detail=detail)
    if at is not None:
        entry.at = at
    session.add(entry)
    return entry


def list_audit(session: Session, *, limit: int = 200, before_id: int | None = None,
               action: str | None = None, actor: str | None = None) -> Sequence[AuditEntry]:
    """Newest entries first; ``before_id`` pages backwards; filters match exactly."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return session.scalars(query).all()


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    """The entries as CSV text (UTC ISO times, detail as JSON)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at_utc", "actor", "actor_kind", "address", "action", "target",
                     "detail"])
    for e in entries:
        writer.writerow([
            e.id, e.at.isoformat(), _cell(e.actor), e.actor_kind, _cell(e.address),
            _cell(e.action), _cell(e.target),
            _cell(json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""),
        ])
    return out.getvalue()
