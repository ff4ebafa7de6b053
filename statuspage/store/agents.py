"""Probe agents' tokens: one per location, stored as a SHA-256 digest, shown once.

A remote agent pushes results with its token (``POST /api/v1/probes/results``); the token names
its location, so one location cannot write another's results.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth import new_secret, token_digest
from statuspage.models import AgentToken, utcnow

__all__ = [
    "LOCAL",
    "authenticate_agent",
    "create_agent_token",
    "list_agent_tokens",
    "revoke_agent_token",
]

#: The location name of this host's own scheduler; agents must use another.
LOCAL = "local"
_LOCATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOKEN_PREFIX = "spa_"  # noqa: S105 - a recognisable prefix, not a secret


def create_agent_token(session: Session, location: str) -> str:
    """A new agent token for ``location``; only its SHA-256 is stored, so show it once."""
    if not _LOCATION.match(location) or location == LOCAL:
        raise ValueError("location: lowercase letters, digits, '-' or '_' (and not 'local', "
                         "which is this host's own scheduler)")
    token = new_secret(_TOKEN_PREFIX)
    session.add(AgentToken(location=location, token_sha256=token_digest(token)))
    return token


def authenticate_agent(session: Session, token: str) -> str | None:
    """The location of a valid, unrevoked agent token, else None."""
    row = session.scalars(sa.select(AgentToken).where(
        AgentToken.token_sha256 == token_digest(token), AgentToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    now = utcnow()
    # one write a minute at most, not one per push
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return row.location


def list_agent_tokens(session: Session) -> list[AgentToken]:
    """Every agent token (digests only), newest first."""
    return list(session.scalars(sa.select(AgentToken).order_by(AgentToken.id.desc())))


def revoke_agent_token(session: Session, token_id: int) -> bool:
    """Revoke one token; returns whether it existed and was active."""
    row = session.get(AgentToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
