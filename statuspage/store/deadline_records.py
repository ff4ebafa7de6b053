"""Deadlines as data: seed from the config, create, edit, record the agency's decision.

Every verb takes the session first, validates everything that enters (one ``DeadlineError``
carrying field errors, nothing written on refusal) and writes its audit entry in the same
transaction. The same rules serve the config seed, the console and the API.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage import inputs
from statuspage.config import DeadlineConfig, StatusConfig
from statuspage.db import bump_changes
from statuspage.models import Component, Deadline
from statuspage.store.audit import Actor, record_audit
from statuspage.store.refusal import Refused

__all__ = [
    "EDITABLE",
    "DeadlineError",
    "create_deadline",
    "edit_deadline",
    "get_deadline",
    "list_deadlines",
    "parse_time",
    "record_decision",
    "sync_deadlines",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Fields an operator may set (the id only on create).
EDITABLE = ("agency", "name_id", "name_en", "closes_at", "opened_at", "legal_min_days",
            "components", "window_days", "patience_s", "demand_profile", "contact")
_TEXT_LIMITS = {"agency": 200, "name_id": 300, "name_en": 300, "contact": 320}


class DeadlineError(Refused):
    """Refused deadline input (a ``Refused``): ``errors`` maps each field to its message; the
    message names every field ("closes_at: ...; components: ..."), as the deadline API says."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(errors)
        self.args = ("; ".join(f"{k}: {v}" for k, v in self.errors.items()),)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time with its zone (``datetime`` passes through); None if not one."""
    if isinstance(value, datetime):
        value = value.isoformat()
    try:  # the one rule for times that enter (years 2000-2100: year 1 at +14:00 overflowed)
        return inputs.parse_time(value, "time")
    except inputs.InputError:
        return None


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or len(value) > limit:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return None
    return value.strip()


def _clean(session: Session, data: Mapping[str, Any], current: Deadline | None
           ) -> dict[str, Any]:
    """Validated column values from ``data`` (only the keys given, all of them on create)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in data:
        if key not in EDITABLE and key != "id":
            errors[key] = "unknown field"
    required = ("agency", "name_id", "closes_at", "components") if current is None else ()
    for key in required:
        if data.get(key) in (None, "", []):
            errors[key] = "required"
    for key, limit in _TEXT_LIMITS.items():
        if key in data and key not in errors:
            text = _text(data[key], limit)
            if text is None:
                errors[key] = f"text up to {limit} characters, without control characters"
            elif key in required and not text:
                errors[key] = "required"
            else:
                values[key] = text
    for key in ("closes_at", "opened_at"):
        if key in data and key not in errors:
            if data[key] is None and key == "opened_at":
                values[key] = None
                continue
            when = parse_time(data[key])
            if when is None:
                errors[key] = "an ISO 8601 time with its zone, e.g. 2024-09-06T23:59:00+07:00"
            else:
                values[key] = when
    if "components" in data and "components" not in errors:
        names = data["components"]
        known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
        if (not isinstance(names, list) or not names or len(names) > 20
                or not all(isinstance(n, str) for n in names)):
            errors["components"] = "a list of 1 to 20 component ids"
        elif unknown := [n for n in names if n not in known]:
            errors["components"] = f"unknown component(s): {', '.join(unknown[:5])}"
        else:
            values["components"] = list(dict.fromkeys(names))
    _numbers(data, values, errors)
    closes = values.get("closes_at", current.closes_at if current else None)
    opened = values.get("opened_at", current.opened_at if current else None)
    if closes is not None and opened is not None and opened >= closes and not errors:
        errors["opened_at"] = "the window ends before it starts: opened_at must be before closes_at"
    if errors:
        raise DeadlineError(errors)
    return values


def _numbers(data: Mapping[str, Any], values: dict[str, Any], errors: dict[str, str]) -> None:
    def number(value: object) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    bounds = {"window_days": (1, 60), "legal_min_days": (1, 366), "patience_s": (1, 600)}
    for key, (low, high) in bounds.items():
        if key not in data:
            continue
        if data[key] is None and key == "legal_min_days":
            values[key] = None
            continue
        found = number(data[key])
        if found is None or not low <= found <= high or (key != "patience_s"
                                                          and found != int(found)):
            kind = "a number" if key == "patience_s" else "a whole number"
            errors[key] = f"{kind} from {low} to {high}"
        else:
            values[key] = found if key == "patience_s" else int(found)
    if "demand_profile" in data:
        profile = data["demand_profile"]
        if profile is None:
            values["demand_profile"] = None
        elif (not isinstance(profile, list) or len(profile) != 24
              or any(number(v) is None or not 0 <= number(v) < 1e12 for v in profile)  # type: ignore[operator]
              or not sum(profile) > 0):
            errors["demand_profile"] = "24 non-negative numbers (one per local hour), not all zero"
        else:
            values["demand_profile"] = [float(v) for v in profile]


def create_deadline(session: Session, actor: Actor | None, data: Mapping[str, Any], *,
                    origin: str = "console") -> Deadline:
    """A new deadline; the id is a slug chosen by the operator."""
    deadline_id = data.get("id")
    if not isinstance(deadline_id, str) or not _SLUG.match(deadline_id):
        raise DeadlineError({"id": "lowercase letters, digits, '-' or '_' (up to 64)"})
    if session.get(Deadline, deadline_id) is not None:
        raise DeadlineError({"id": f"a deadline {deadline_id!r} exists already"})
    values = _clean(session, {k: v for k, v in data.items() if k != "id"}, None)
    row = Deadline(id=deadline_id, origin=origin, **values)
    session.add(row)
    session.flush()
    record_audit(session, actor, "deadline.create", target=deadline_id,
                 detail=_jsonable(values))
    bump_changes(session)
    return row


def edit_deadline(session: Session, actor: Actor | None, deadline_id: str,
                  data: Mapping[str, Any], *, origin: str = "console") -> Deadline:
    """Change some fields; a deadline edited here no longer follows the config file."""
    row = session.get(Deadline, deadline_id)
    if row is None:
        raise DeadlineError({"deadline": "no such deadline"})
    if "id" in data and data["id"] != deadline_id:
        raise DeadlineError({"id": "the id cannot change"})
    values = _clean(session, {k: v for k, v in data.items() if k != "id"}, row)
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        row.origin = origin
        record_audit(session, actor, "deadline.edit", target=deadline_id,
                     detail=_jsonable(changed))
        bump_changes(session)
    return row


def record_decision(session: Session, actor: Actor | None, deadline_id: str,
                    extended_to: object, text: object) -> Deadline:
    """The agency's decision: the deadline now closes at ``extended_to`` (announced as ``text``)."""
    row = session.get(Deadline, deadline_id)
    if row is None:
        raise DeadlineError({"deadline": "no such deadline"})
    errors: dict[str, str] = {}
    when = parse_time(extended_to)
    if when is None:
        errors["extended_to"] = "an ISO 8601 time with its zone, e.g. 2024-09-10T23:59:00+07:00"
    elif when <= row.closes_at or when > row.closes_at + timedelta(days=366):
        errors["extended_to"] = "must be after the original closing (and within a year)"
    wording = _text(text, 1000)
    if not wording:
        errors["decision"] = "the decision as announced (1 to 1000 characters)"
    if errors:
        raise DeadlineError(errors)
    row.extended_to = when
    row.decision = wording
    record_audit(session, actor, "deadline.decision", target=deadline_id,
                 detail={"extended_to": when.isoformat() if when else None, "decision": wording})
    bump_changes(session)
    return row


def sync_deadlines(session: Session, config: StatusConfig) -> None:
    """Seed the config's deadlines; rows never edited elsewhere follow the file."""
    for item in config.deadlines:
        row = session.get(Deadline, item.id)
        values = _from_config(item)
        if row is None:
            session.add(Deadline(id=item.id, origin="config", **values))
            record_audit(session, Actor("config", "system"), "deadline.create",
                         target=item.id, detail=_jsonable(values))
            bump_changes(session)
        elif row.origin == "config":
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            for key, value in changed.items():
                setattr(row, key, value)
            if changed:
                record_audit(session, Actor("config", "system"), "deadline.edit",
                             target=item.id, detail=_jsonable(changed))
                bump_changes(session)


def _from_config(item: DeadlineConfig) -> dict[str, Any]:
    return {"agency": item.agency, "name_id": item.name, "name_en": item.name_en,
            "closes_at": item.at.astimezone(UTC),
            "opened_at": item.opened_at.astimezone(UTC) if item.opened_at else None,
            "legal_min_days": item.legal_min_days, "components": list(item.components),
            "window_days": item.window_days, "patience_s": item.patience_s,
            "demand_profile": list(item.demand_profile) if item.demand_profile else None,
            "contact": item.contact}


def get_deadline(session: Session, deadline_id: str) -> Deadline | None:
    """One deadline, or None."""
    return session.get(Deadline, deadline_id)


def list_deadlines(session: Session, limit: int = 200) -> Sequence[Deadline]:
    """Deadlines, latest closing first (bounded)."""
    return session.scalars(sa.select(Deadline).order_by(Deadline.closes_at.desc())
                           .limit(limit)).all()


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
