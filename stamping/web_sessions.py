"""Web sessions of the HTML pages: their own revocable tokens (issue 8, item 12).

The session cookie used to hold the account's API token, so logging out left a permanent
API credential in the browser's history of cookies.  A web session is a separate token
(only its SHA-256 stored) that expires, and that logout revokes at once: every page looks
it up in the database (no cache), so a revoked cookie stops working on the next request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stamping.models import Account, WebSession
from stamping.rules import hash_token
from stamping.store import AccountView

__all__ = ["account_for_session", "opener", "prune", "revoke"]


def opener(ttl: dt.timedelta) -> Callable[[Session, int, dt.datetime], str]:
    """A credential issuer (see ``store.verify_otp``) that opens a web session of ``ttl``."""
    def open_session(session: Session, account_id: int, now: dt.datetime) -> str:
        token = "web_" + secrets.token_urlsafe(32)
        session.add(WebSession(account_id=account_id, token_hash=hash_token(token),
                               created_at=now, expires_at=now + ttl))
        return token
    return open_session


def account_for_session(session: Session, token: str, now: dt.datetime) -> AccountView | None:
    """The account of a live (unexpired, unrevoked) web session token."""
    account = session.scalar(
        sa.select(Account).join(WebSession, WebSession.account_id == Account.id)
        .where(WebSession.token_hash == hash_token(token), WebSession.revoked_at.is_(None),
               WebSession.expires_at > now))
    if account is None:
        return None
    return AccountView(account.id, account.phone, account.name, account.is_probe,
                       account.available, account.spent)


def revoke(session: Session, token: str, now: dt.datetime) -> bool:
    """Revoke a web session (logout); True when a live session was revoked."""
    return bool(session.execute(
        sa.update(WebSession).where(WebSession.token_hash == hash_token(token),
                                    WebSession.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]


def prune(session: Session, before: dt.datetime) -> int:
    """Drop sessions that expired before ``before``."""
    return int(session.execute(sa.delete(WebSession).where(WebSession.expires_at < before)
                               .execution_options(synchronize_session=False)
                               ).rowcount)  # type: ignore[attr-defined]
