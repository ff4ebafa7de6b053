"""Webhook delivery: Standard Webhooks signing, body formats, SSRF-safe sending, the worker loop.

Modules: ``signing`` (secrets, ``webhook-*`` headers), ``formats`` (Statuspage envelope and
Slack message), ``ssrf`` (URL and address rules, a transport that connects only to checked
addresses), ``sender`` (one HTTP attempt and its classification), ``loop`` (the worker's fan-out,
claim, send and record cycle, and URL verification). Persistence is in
``statuspage.store.outbox``, ``statuspage.store.subscriptions``,
``statuspage.store.deliveries`` and ``statuspage.store.delivery_outcomes``.
"""
