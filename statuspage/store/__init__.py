"""Persistence verbs. Each takes a SQLAlchemy ``Session`` first; the caller owns the transaction
(``Database.session()`` for writes, ``Database.read()`` for pure reads).

One module per domain: ``components`` (config sync, measured status), ``incidents``/
``maintenance``/``declared`` and ``drafts``/``draft_text``/``recovery`` (incidents, maintenance,
probe-made drafts),
``operators``/``login_throttle``/``audit`` (console accounts, tokens, lockouts, audit log),
``templates`` (incident templates), ``agents`` (probe agents' tokens),
``probe_results``/``probe_queries``/``attempts``/``evidence_import`` (measurements and
their rollups),
``public``/``public_views`` (the read model of the public page), ``deadlines``/
``deadline_records``/``notices`` (deadline impact and notices), ``outbox``/``deliveries``/
``subscriptions``/``notified`` (webhooks and subscribers), ``ratelimits``, ``day_zone``.
A verb refuses with ``refusal.Refused`` (field errors) and writes its own audit entry in the
caller's transaction.
"""
