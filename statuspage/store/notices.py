"""Deadline notices: drafted by the evaluation job, published by an operator, updated as
evidence arrives, final after the closing has passed. Every change keeps a ``NoticeUpdate``
(like incident updates) and an audit entry, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.config import StatusConfig
from statuspage.db import bump_changes
from statuspage.evidence import LEVELS
from statuspage.i18n import Formatter
from statuspage.models import Deadline, DeadlineNotice, NoticeUpdate
from statuspage.notice_text import evidence_json, summary_text
from statuspage.store.audit import Actor, record_audit
from statuspage.store.deadline_records import DeadlineError, _text
from statuspage.store.deadlines import evidence_for

__all__ = ["NoticeHook", "active_notices", "evaluate_deadlines", "get_notice",
           "note_decision", "public_updates", "publish_notice", "refresh_notice"]

log = logging.getLogger(__name__)
SYSTEM = Actor("evaluator", "system")
#: A published notice gets a new update when the lost time moved by this much (or the level,
#: the recommendation or the provisional flag changed): often enough, never every minute.
UPDATE_STEP = timedelta(minutes=15)
#: After the effective closing the evaluation keeps going this long, then writes the final.
FINAL_AFTER = timedelta(hours=1)
#: Called with (session, notice, update) whenever a public update is written (webhooks).
NoticeHook = Callable[[Session, DeadlineNotice, NoticeUpdate], None]


def get_notice(session: Session, deadline_id: str) -> DeadlineNotice | None:
    """The deadline's notice with its updates (newest first), or None."""
    return session.scalars(sa.select(DeadlineNotice).options(selectinload(DeadlineNotice.updates))
                           .where(DeadlineNotice.deadline_id == deadline_id)).first()


def active_notices(session: Session) -> Sequence[DeadlineNotice]:
    """Published notices not yet final (the home page banner)."""
    return session.scalars(sa.select(DeadlineNotice).where(DeadlineNotice.state == "published")
                           .order_by(DeadlineNotice.published_at.desc()).limit(10)).all()


def _bodies(config: StatusConfig, deadline: Deadline, figures: dict[str, Any]
            ) -> tuple[str, str]:
    page = config.page
    return tuple(  # type: ignore[return-value]
        summary_text(figures, Formatter(lang, page.time_zone, page.time_zone_label),
                     deadline.name(lang)) for lang in ("id", "en"))


def _add_update(session: Session, notice: DeadlineNotice, kind: str, figures: dict[str, Any],
                bodies: tuple[str, str], author: str | None, now: datetime) -> NoticeUpdate:
    update = NoticeUpdate(notice_id=notice.id, kind=kind, level=figures["level"],
                          body_id=bodies[0], body_en=bodies[1], figures=figures,
                          created_at=now, author=author)
    session.add(update)
    notice.figures = figures
    notice.level = figures["level"]
    notice.updated_at = now
    return update


def _material(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if not old:
        return True
    keys = ("level", "provisional", "recommended_extension_days")
    if any(old.get(k) != new.get(k) for k in keys):
        return True
    moved = abs((new.get("lost_seconds") or 0) - (old.get("lost_seconds") or 0))
    return moved >= UPDATE_STEP.total_seconds()


def refresh_notice(session: Session, config: StatusConfig, deadline: Deadline, now: datetime,
                   hook: NoticeHook | None = None) -> NoticeUpdate | None:
    """Evaluate one deadline; draft, update or finalise its notice. Returns the new update."""
    evidence = evidence_for(session, deadline, now, config.notices)
    figures = evidence_json(evidence)
    figures["computed_at"] = now.isoformat()
    deadline.level = evidence.level
    deadline.evaluated_at = now
    notice = get_notice(session, deadline.id)
    bodies = _bodies(config, deadline, figures)
    update: NoticeUpdate | None = None
    if notice is None:
        if LEVELS.index(evidence.level) < LEVELS.index("at_risk"):
            return None
        notice = DeadlineNotice(deadline_id=deadline.id, state="draft", level=evidence.level,
                                figures=figures, created_at=now)
        session.add(notice)
        session.flush()
        update = _add_update(session, notice, "drafted", figures, bodies, None, now)
        record_audit(session, SYSTEM, "notice.draft", target=deadline.id,
                     detail={"level": evidence.level, "lost_seconds": figures["lost_seconds"]})
        if config.notices.auto_publish:
            update = _publish(session, notice, deadline, figures, bodies, SYSTEM, now)
        else:
            bump_changes(session)  # the console lists drafts
    elif notice.state == "draft":
        notice.figures = figures  # the draft shows the latest figures; history starts at publish
        notice.level = evidence.level
    elif notice.state == "published":
        if now >= deadline.effective_close + FINAL_AFTER:
            notice.state = "final"
            notice.final_at = now
            update = _add_update(session, notice, "final", figures, bodies, None, now)
            record_audit(session, SYSTEM, "notice.final", target=deadline.id)
        elif _material(notice.figures, figures):
            update = _add_update(session, notice, "update", figures, bodies, None, now)
        if update is not None:
            bump_changes(session)
    if update is not None and notice.state != "draft" and hook is not None:
        hook(session, notice, update)
    return update


def _publish(session: Session, notice: DeadlineNotice, deadline: Deadline,
             figures: dict[str, Any], bodies: tuple[str, str], actor: Actor, now: datetime
             ) -> NoticeUpdate:
    notice.state = "published"
    notice.published_at = now
    update = _add_update(session, notice, "published", figures, bodies, actor.name, now)
    record_audit(session, actor, "notice.publish", target=deadline.id,
                 detail={"level": figures["level"]})
    bump_changes(session)
    return update


def publish_notice(session: Session, actor: Actor, deadline_id: str, statement_id: object,
                   statement_en: object, now: datetime, config: StatusConfig,
                   hook: NoticeHook | None = None) -> NoticeUpdate:
    """An operator publishes the drafted notice with the operators' statement (both languages)."""
    notice = get_notice(session, deadline_id)
    deadline = session.get(Deadline, deadline_id)
    if notice is None or deadline is None:
        raise DeadlineError({"notice": "no notice has been drafted for this deadline"})
    if notice.state != "draft":
        raise DeadlineError({"notice": f"the notice is {notice.state} already"})
    errors = {}
    texts = []
    for key, value in (("statement_id", statement_id), ("statement_en", statement_en)):
        text = _text(value if value is not None else "", 4000)
        if text is None:
            errors[key] = "text up to 4000 characters, without control characters"
        texts.append(text or "")
    if errors:
        raise DeadlineError(errors)
    notice.statement_id, notice.statement_en = texts
    bodies = _bodies(config, deadline, notice.figures)
    update = _publish(session, notice, deadline, notice.figures, bodies, actor, now)
    if hook is not None:
        hook(session, notice, update)
    return update


def note_decision(session: Session, config: StatusConfig, deadline_id: str, now: datetime,
                  hook: NoticeHook | None = None) -> NoticeUpdate | None:
    """After the agency's decision: a public notice gets a ``decision`` update carrying the
    decision and the figures over the lengthened window (a draft just follows it)."""
    deadline = session.get(Deadline, deadline_id)
    notice = get_notice(session, deadline_id)
    if deadline is None or notice is None or notice.state != "published":
        return None
    figures = evidence_json(evidence_for(session, deadline, now, config.notices))
    figures["computed_at"] = now.isoformat()
    summary_id, summary_en = _bodies(config, deadline, figures)
    page = config.page
    closes = {lang: Formatter(lang, page.time_zone, page.time_zone_label).datetime(
        deadline.effective_close) for lang in ("id", "en")}
    decided = (deadline.decision or "").rstrip(".")
    bodies = (f"Keputusan {deadline.agency}: {decided}. Tenggat kini {closes['id']}. "
              + summary_id,
              f"{deadline.agency}'s decision: {decided}. The deadline is now "
              f"{closes['en']}. " + summary_en)
    update = _add_update(session, notice, "decision", figures, bodies, None, now)
    bump_changes(session)
    if hook is not None:
        hook(session, notice, update)
    return update


def evaluate_deadlines(session_factory: Callable[[], Any], config: StatusConfig, now: datetime,
                       hook: NoticeHook | None = None) -> int:
    """The scheduled job: evaluate every deadline whose window is open (or just closed) and
    whose notice is not final, each in its own transaction. Returns how many were evaluated."""
    with session_factory() as session:
        due = [d.id for d in session.scalars(sa.select(Deadline).limit(500))
               if d.closes_at - timedelta(days=d.window_days) <= now
               <= d.effective_close + FINAL_AFTER + timedelta(days=1)]
    done = 0
    for deadline_id in due:
        try:
            with session_factory() as session:
                deadline = session.get(Deadline, deadline_id)
                notice = get_notice(session, deadline_id)
                if deadline is None or (notice is not None and notice.state == "final"):
                    continue
                refresh_notice(session, config, deadline, now, hook)
                done += 1
        except Exception:  # one deadline's failure must not stop the others
            log.exception("evaluating deadline %s failed", deadline_id)
    return done


def public_updates(session: Session, deadline_id: str | None = None, limit: int = 50
                   ) -> list[tuple[NoticeUpdate, DeadlineNotice, Deadline]]:
    """Public notice updates (never a draft's), newest first: the feeds read these."""
    query = (sa.select(NoticeUpdate, DeadlineNotice, Deadline)
             .join(DeadlineNotice, DeadlineNotice.id == NoticeUpdate.notice_id)
             .join(Deadline, Deadline.id == DeadlineNotice.deadline_id)
             .where(DeadlineNotice.state != "draft", NoticeUpdate.kind != "drafted")
             .order_by(NoticeUpdate.id.desc()).limit(limit))
    if deadline_id is not None:
        query = query.where(Deadline.id == deadline_id)
    return [(u, n, d) for u, n, d in session.execute(query)]
