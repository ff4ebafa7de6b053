"""Throttling logins and OTP messages, per phone number and per client address (issue 8, 7).

Counters live in the database (``rate_counters``), one row per (scope, key, fixed window),
so several web processes sharing one database enforce one limit.  A counter moves only by a
conditional ``UPDATE ... WHERE count < limit``, so concurrent requests can never pass a
limit together, on SQLite or PostgreSQL.

The policy:

- **Login, per address**: at most ``login_per_address`` attempts per window.
- **Login, per phone number**: after ``login_failures_per_phone`` wrong passwords in a
  window, further attempts are refused, except from an address that has no failure in the
  window, so an attacker cannot lock the owner out by failing on purpose.
- **OTP messages**: at most ``otp_per_phone`` codes per number and ``otp_per_address`` per
  address per window (each code costs a WhatsApp message and spams a real person).

Refusals are ``429`` with ``Retry-After`` (the end of the window).  Client addresses are
the TCP peer: the stamping service trusts no forwarded headers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stamping.models import RateCounter

__all__ = ["Limit", "Policy", "Throttled", "check", "login_failed", "login_gate", "otp_gate",
           "peek", "prune", "record", "take", "window_start"]

EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Limit:
    """``count`` events per ``window`` seconds for one ``scope``."""

    scope: str
    count: int
    window: int


class Throttled(Exception):
    """A limit is reached: ``retry_after`` seconds until its window ends."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope, retry_after)
        self.scope, self.retry_after = scope, retry_after


def window_start(now: dt.datetime, window: int) -> dt.datetime:
    """The start of the fixed window of ``window`` seconds that holds ``now``."""
    seconds = (now - EPOCH).total_seconds()
    return EPOCH + dt.timedelta(seconds=math.floor(seconds / window) * window)


def _retry_after(now: dt.datetime, limit: Limit) -> int:
    end = window_start(now, limit.window) + dt.timedelta(seconds=limit.window)
    return max(1, math.ceil((end - now).total_seconds()))


def _where(limit: Limit, key: str, start: dt.datetime) -> list[sa.ColumnElement[bool]]:
    return [RateCounter.scope == limit.scope, RateCounter.key == key[:128],
            RateCounter.window_start == start]


def take(session: Session, limit: Limit, key: str, now: dt.datetime) -> None:
    """Count one event for ``key``; raise Throttled when the window's limit is reached."""
    start = window_start(now, limit.window)
    where = _where(limit, key, start)
    for _ in range(2):
        taken = session.execute(
            sa.update(RateCounter).where(*where, RateCounter.count < limit.count)
            .values(count=RateCounter.count + 1)
            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if taken:
            return
        if session.scalar(sa.select(RateCounter.count).where(*where)) is not None:
            raise Throttled(limit.scope, _retry_after(now, limit))
        try:
            with session.begin_nested():
                session.add(RateCounter(scope=limit.scope, key=key[:128], window_start=start,
                                        count=1))
            return
        except IntegrityError:  # another process created the row first: count on it
            continue
    raise Throttled(limit.scope, _retry_after(now, limit))


def record(session: Session, limit: Limit, key: str, now: dt.datetime) -> None:
    """Count one event for ``key`` whatever the limit (a failure to be checked later)."""
    try:
        take(session, Limit(limit.scope, 2**31 - 1, limit.window), key, now)
    except Throttled:  # pragma: no cover - the limit above is never reached
        pass


def peek(session: Session, limit: Limit, key: str, now: dt.datetime) -> int:
    """Events counted for ``key`` in the current window."""
    count = session.scalar(sa.select(RateCounter.count).where(
        *_where(limit, key, window_start(now, limit.window))))
    return int(count or 0)


def check(session: Session, limit: Limit, key: str, now: dt.datetime) -> None:
    """Raise Throttled when ``key`` already reached the limit in this window."""
    if peek(session, limit, key, now) >= limit.count:
        raise Throttled(limit.scope, _retry_after(now, limit))


def prune(session: Session, before: dt.datetime) -> int:
    """Drop counters of windows that started before ``before``."""
    return int(session.execute(sa.delete(RateCounter).where(RateCounter.window_start < before)
                               .execution_options(synchronize_session=False)
                               ).rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Policy:
    """The service's limits (built from Settings by the Service)."""

    login_address: Limit
    login_phone_failures: Limit
    login_address_failures: Limit
    otp_phone: Limit
    otp_address: Limit

    @classmethod
    def build(cls, window: int, login_per_address: int, login_failures_per_phone: int,
              otp_per_phone: int, otp_per_address: int) -> Policy:
        """Limits sharing one window."""
        return cls(Limit("login_addr", login_per_address, window),
                   Limit("login_fail_phone", login_failures_per_phone, window),
                   Limit("login_fail_addr", login_per_address, window),
                   Limit("otp_phone", otp_per_phone, window),
                   Limit("otp_addr", otp_per_address, window))


def login_gate(session: Session, policy: Policy, phone: str, address: str,
               now: dt.datetime) -> None:
    """Count a login attempt; raise Throttled for a busy address or a phone under attack.

    A phone past its failure limit is refused only to addresses that failed in this window,
    so the owner, from an address with no failures, still gets in.
    """
    take(session, policy.login_address, address, now)
    if peek(session, policy.login_phone_failures, phone, now) \
            >= policy.login_phone_failures.count \
            and peek(session, policy.login_address_failures, address, now) > 0:
        raise Throttled(policy.login_phone_failures.scope,
                        _retry_after(now, policy.login_phone_failures))


def login_failed(session: Session, policy: Policy, phone: str, address: str,
                 now: dt.datetime) -> None:
    """Record a wrong password for the phone and the address."""
    record(session, policy.login_phone_failures, phone, now)
    record(session, policy.login_address_failures, address, now)


def otp_gate(session: Session, policy: Policy, phone: str, address: str,
             now: dt.datetime) -> None:
    """Count an OTP message; raise Throttled past the phone's or the address's limit."""
    take(session, policy.otp_phone, phone, now)
    take(session, policy.otp_address, address, now)
