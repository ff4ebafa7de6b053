"""Where a public notice update goes besides the page and the feeds: the webhook outbox.

``notice_hook(config)`` returns the function the notice verbs call, in the update's own
transaction, for every public update (published, update, final). It adds a ``deadline.notice``
event to the outbox tagged with the deadline's components, so the subscribers of
those components (and page-wide subscribers) receive it, in Bahasa Indonesia and English.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from statuspage.config import StatusConfig
from statuspage.models import Deadline, DeadlineNotice, NoticeUpdate
from statuspage.store.notices import NoticeHook
from statuspage.store.outbox import emit_event

__all__ = ["notice_event", "notice_hook"]

log = logging.getLogger(__name__)


def notice_event(config: StatusConfig, notice: DeadlineNotice, update: NoticeUpdate
                 ) -> dict[str, Any]:
    """The ``deadline.notice`` event payload, in both languages."""
    url = f"{config.page.url}/deadlines/{notice.deadline_id}"
    figures = dict(update.figures)
    # a long disruption history stays on the page and in evidence.json; the event stays small
    figures["downtime_periods"] = list(figures.get("downtime_periods") or [])[:50]
    deadline = notice.deadline_row
    return {"deadline": {
        "id": notice.deadline_id, "notice_id": notice.id, "state": notice.state,
        # name / summary / path: what the webhook formats (Slack) show of any event
        "name": deadline.name_id if deadline else notice.deadline_id,
        "name_en": deadline.name_en if deadline else "",
        "agency": deadline.agency if deadline else "",
        "summary": update.body_id, "summary_en": update.body_en,
        "path": f"/deadlines/{notice.deadline_id}",
        "kind": update.kind, "level": update.level,
        "created_at": update.created_at.isoformat(),
        "body": {"id": update.body_id, "en": update.body_en},
        "statement": {"id": notice.statement_id, "en": notice.statement_en},
        "figures": figures, "url": url, "pdf": f"{url}/notice.pdf"}}


def notice_hook(config: StatusConfig) -> NoticeHook:
    """The hook for the notice verbs (enqueue into the webhook outbox when it exists)."""

    def hook(session: Session, notice: DeadlineNotice, update: NoticeUpdate) -> None:
        deadline = session.get(Deadline, notice.deadline_id)
        components = list(deadline.components) if deadline is not None else []
        emit_event(session, "deadline.notice", notice_event(config, notice, update),
                   components=components, now=update.created_at)
        log.info("deadline.notice %s/%s queued", notice.deadline_id, update.kind)

    return hook
