"""Where a public notice update goes besides the page and the feeds: the webhook outbox.

``notice_hook(config)`` returns the function the notice verbs call, in the update's own
transaction, for every public update (published, update, decision, final). When the webhook
outbox (issue 10) is present it enqueues a ``deadline.notice`` event for that deadline's
subscribers; until then it only logs, so wiring it in later is this one module.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sqlalchemy.orm import Session

from statuspage.config import StatusConfig
from statuspage.models import DeadlineNotice, NoticeUpdate
from statuspage.store.notices import NoticeHook

__all__ = ["notice_event", "notice_hook"]

log = logging.getLogger(__name__)


def notice_event(config: StatusConfig, notice: DeadlineNotice, update: NoticeUpdate
                 ) -> dict[str, Any]:
    """The ``deadline.notice`` event payload, in both languages."""
    url = f"{config.page.url}/deadlines/{notice.deadline_id}"
    return {"type": "deadline.notice", "deadline_id": notice.deadline_id,
            "notice_id": notice.id, "state": notice.state, "kind": update.kind,
            "level": update.level, "created_at": update.created_at.isoformat(),
            "body": {"id": update.body_id, "en": update.body_en},
            "figures": update.figures, "url": url, "pdf": f"{url}/notice.pdf"}


def notice_hook(config: StatusConfig) -> NoticeHook:
    """The hook for the notice verbs (enqueue into the webhook outbox when it exists)."""

    def hook(session: Session, notice: DeadlineNotice, update: NoticeUpdate) -> None:
        event = notice_event(config, notice, update)
        try:
            outbox = importlib.import_module("statuspage.store.webhooks")
            enqueue = outbox.enqueue_event
        except (ImportError, AttributeError):
            log.info("deadline.notice %s/%s (no webhook outbox yet)", notice.deadline_id,
                     update.kind)
            return
        enqueue(session, "deadline.notice", event, deadline_id=notice.deadline_id)

    return hook
