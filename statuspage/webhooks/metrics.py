"""Prometheus metrics of webhook delivery, read from the database at scrape time.

``webhook_deliveries_total{outcome}`` counts delivery attempts by outcome (success, failure,
throttled, gone, timeout, error, refused) over the attempts kept (30 days);
``webhook_queue_depth`` is the number of unfinished deliveries;
``webhook_oldest_undelivered_age_seconds`` is the age of the oldest unfinished delivery or
not-yet-fanned-out event (0 when none); ``webhook_subscriptions{state}`` counts subscriptions.
The email channel reads the same outbox: ``email_subscribers{state}`` (pending, active,
disabled) and ``email_deliveries{state}`` (pending, sending, sent, failed, skipped).
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from statuspage.db import Database
from statuspage.models import WebhookSubscription
from statuspage.store.deliveries import queue_metrics
from statuspage.store.mail_subscribers import mail_counts

__all__ = ["OUTCOMES", "WebhookMetricsCollector"]

OUTCOMES: tuple[str, ...] = ("success", "failure", "throttled", "gone", "timeout", "error",
                             "refused")


class WebhookMetricsCollector(Collector):
    """Webhook and email totals for ``/metrics``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        """Yield attempt counters, queue gauges and subscription counts."""
        with self.db.session() as session:
            queue = queue_metrics(session)
            states = dict(session.execute(
                sa.select(WebhookSubscription.state, sa.func.count())
                .group_by(WebhookSubscription.state)).all())
            mail = mail_counts(session, limit=0)
        attempts = CounterMetricFamily("webhook_deliveries", "Webhook delivery attempts by "
                                       "outcome", labels=["outcome"])
        for outcome in OUTCOMES:
            attempts.add_metric([outcome], float(queue["outcomes"].get(outcome, 0)))
        yield attempts
        yield GaugeMetricFamily("webhook_queue_depth", "Unfinished webhook deliveries",
                                value=float(queue["depth"]))
        yield GaugeMetricFamily("webhook_oldest_undelivered_age_seconds",
                                "Age of the oldest unfinished delivery or unsent event",
                                value=float(queue["oldest_age_s"]))
        subs = GaugeMetricFamily("webhook_subscriptions", "Webhook subscriptions by state",
                                 labels=["state"])
        for state in ("pending", "active", "disabled", "unsubscribed", "expired"):
            subs.add_metric([state], float(states.get(state, 0)))
        yield subs
        for name, help_text, keys in (
                ("subscribers", "Email subscribers by state", ("pending", "active", "disabled")),
                ("deliveries", "Email messages by state",
                 ("pending", "sending", "sent", "failed", "skipped"))):
            family = GaugeMetricFamily(f"email_{name}", help_text, labels=["state"])
            for state in keys:
                family.add_metric([state], float(mail[name].get(state, 0)))
            yield family
