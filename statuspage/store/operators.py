"""Operators, their sessions and API tokens, and login throttling, all in the database.

Every check reads the database, so a lockout, a revoked token or a "log out everywhere" holds in
every web process the moment its transaction commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from statuspage.auth import (
    API_TOKEN_PREFIX,
    SESSION_IDLE,
    SESSION_MAX_AGE,
    ThrottlePolicy,
    hash_password,
    new_secret,
    password_problem,
    token_digest,
)
from statuspage.models import utcnow
from statuspage.models.operators import (
    ROLES,
    ApiToken,
    LoginThrottle,
    Operator,
    OperatorSession,
)
from statuspage.store.audit import Actor, record_audit
from statuspage.store.login_throttle import (
    LoginCheck,
    check_password,
    login_check,
    operator_for,
    refund,
)
from statuspage.store.refusal import Refused, clean

__all__ = [
    "LoginResult",
    "LoginCheck",
    "authenticate",
    "check_password",
    "create_operator",
    "create_token",
    "end_all_sessions",
    "end_session",
    "find_operator",
    "list_locks",
    "list_operators",
    "list_tokens",
    "login_check",
    "prune_expired",
    "record_login",
    "revoke_token",
    "session_operator",
    "set_password",
    "start_session",
    "token_operator",
    "unlock",
    "update_operator",
]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
#: last_seen_at is written at most this often (not on every request)
_TOUCH_EVERY_S = 60


@dataclass(frozen=True)
class LoginResult:
    """Outcome of a login attempt: the operator, or why not (``invalid`` / ``locked``)."""

    operator: Operator | None
    reason: str | None = None


def normalise_email(email: str) -> str:
    """Lower-cased, stripped email (logins are case-insensitive)."""
    return email.strip().lower()


def _validate_email(email: str) -> str:
    email = normalise_email(clean(email, "email"))
    if not _EMAIL.match(email):
        raise Refused("Alamat email tidak valid.", "email")
    return email


def find_operator(session: Session, email: str) -> Operator | None:
    """The operator with this email (any case), or None."""
    return session.scalars(
        sa.select(Operator).where(Operator.email == normalise_email(email))).first()


def list_operators(session: Session) -> Sequence[Operator]:
    """All operators by email."""
    return session.scalars(sa.select(Operator).order_by(Operator.email)).all()


def create_operator(session: Session, hasher: PasswordHasher, *, email: str, password: str,
                    role: str = "operator", actor: Actor | None = None) -> Operator:
    """Add an operator; refuses a bad email, duplicate, unknown role or weak password."""
    email = _validate_email(email)
    if role not in ROLES:
        raise Refused("Peran tidak dikenal.", "role")
    if (problem := password_problem(password)) is not None:
        raise Refused(problem, "password")
    if find_operator(session, email) is not None:
        raise Refused("Email ini sudah terdaftar.", "email")
    operator = Operator(email=email, role=role, password_hash=hash_password(hasher, password))
    session.add(operator)
    session.flush()
    record_audit(session, actor, "operator.create", target=email, detail={"role": role})
    return operator


def update_operator(session: Session, email: str, *, role: str | None = None,
                    active: bool | None = None, actor: Actor | None = None) -> Operator:
    """Change role and/or active flag; deactivation also ends the operator's sessions.

    Refuses to leave the console without an active admin.
    """
    operator = find_operator(session, email)
    if operator is None:
        raise Refused("Operator tidak ditemukan.", "email")
    if role is not None and role not in ROLES:
        raise Refused("Peran tidak dikenal.", "role")
    changes: dict[str, object] = {}
    new_role = role if role is not None else operator.role
    new_active = active if active is not None else operator.active
    if operator.role == "admin" and (new_role != "admin" or not new_active):
        # Lock every active admin row (PostgreSQL): a concurrent demotion of another admin waits
        # here and then sees this one's outcome. On SQLite the write transaction already holds
        # the database's write lock (statuspage/db.py), which serialises the same way.
        admins = session.scalars(sa.select(Operator.id).where(
            Operator.role == "admin", Operator.active.is_(True)).with_for_update()).all()
        if not [admin_id for admin_id in admins if admin_id != operator.id]:
            raise Refused("Harus ada setidaknya satu admin aktif.", "role")
    if new_role != operator.role:
        changes["role"] = [operator.role, new_role]
        operator.role = new_role
    if new_active != operator.active:
        changes["active"] = [operator.active, new_active]
        operator.active = new_active
        if not new_active:
            end_all_sessions(session, operator.id)
    if changes:
        record_audit(session, actor, "operator.update", target=operator.email, detail=changes)
    return operator


def set_password(session: Session, hasher: PasswordHasher, email: str, password: str, *,
                 actor: Actor | None = None) -> Operator:
    """Replace an operator's password and end all their sessions."""
    operator = find_operator(session, email)
    if operator is None:
        raise Refused("Operator tidak ditemukan.", "email")
    if (problem := password_problem(password)) is not None:
        raise Refused(problem, "password")
    operator.password_hash = hash_password(hasher, password)
    operator.password_changed_at = utcnow()
    end_all_sessions(session, operator.id)
    record_audit(session, actor, "operator.password", target=operator.email)
    return operator


# --- logins (admission and counting: statuspage.store.login_throttle) -------------------------

def record_login(session: Session, check: LoginCheck, *, ok: bool, address: str | None,
                 new_hash: str | None = None, now: datetime | None = None) -> LoginResult:
    """Last step of a login: audit a refusal or failure, or refund the count and open the
    account.

    The attempt was counted as a failure by ``login_check`` before the password was verified
    (outside any transaction, so argon2 never holds a database lock); a right password gets
    that count back here.
    """
    now = now or utcnow()
    actor = Actor(check.email or None, "operator", address)
    if check.locked:
        record_audit(session, actor, "login.refused_locked", target=check.email,
                     detail={"refused": check.refused})
        return LoginResult(None, "locked")
    if not ok:
        record_audit(session, actor, "login.failed", target=check.email,
                     detail={"lockout": True} if check.started_lockout else None)
        return LoginResult(None, "invalid")
    operator = operator_for(session, check)
    if operator is None:  # deactivated since the check
        return LoginResult(None, "invalid")
    refund(session, check, address, now)
    if new_hash is not None:
        operator.password_hash = new_hash
    operator.last_login_at = now
    prune_expired(session, now)
    record_audit(session, actor, "login", target=check.email)
    return LoginResult(operator)


def authenticate(session: Session, hasher: PasswordHasher, email: str, password: str, *,
                 address: str | None, policy: ThrottlePolicy | None = None,
                 now: datetime | None = None) -> LoginResult:
    """The three login steps in one transaction (CLI and tests; the web splits them).

    A locked account or address is refused before the password is checked, with the same
    answer whether or not the account exists (no enumeration). The caller must commit even a
    failed attempt: the failure counters are the point.
    """
    check = login_check(session, email, address=address, policy=policy, now=now)
    ok, new_hash = check_password(hasher, check, password)
    return record_login(session, check, ok=ok, address=address, new_hash=new_hash, now=now)


def prune_expired(session: Session, now: datetime | None = None) -> None:
    """Delete expired sessions and stale, unlocked throttle rows (run on each login)."""
    now = now or utcnow()
    session.execute(sa.delete(OperatorSession).where(sa.or_(
        OperatorSession.expires_at <= now, OperatorSession.last_seen_at < now - SESSION_IDLE)))
    stale = now - ThrottlePolicy().window
    session.execute(sa.delete(LoginThrottle).where(
        LoginThrottle.updated_at < stale,
        sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))


def list_locks(session: Session, now: datetime | None = None) -> Sequence[LoginThrottle]:
    """Throttle keys currently locked out (accounts and addresses)."""
    now = now or utcnow()
    return session.scalars(sa.select(LoginThrottle).where(LoginThrottle.locked_until > now)
                           .order_by(LoginThrottle.key)).all()


def unlock(session: Session, key_or_email: str, *, actor: Actor | None = None) -> bool:
    """Lift a lockout: an email (its account) or a full key (``address:1.2.3.4``)."""
    key = key_or_email if ":" in key_or_email else f"account:{normalise_email(key_or_email)}"
    row = session.get(LoginThrottle, key)
    if row is None:
        return False
    was_locked = row.locked_until is not None
    row.locked_until, row.failures, row.updated_at = None, 0, utcnow()
    record_audit(session, actor, "login.unlock", target=key)
    return was_locked


# --- sessions ---------------------------------------------------------------------------------

def start_session(session: Session, operator: Operator, *, address: str | None,
                  user_agent: str | None, now: datetime | None = None) -> str:
    """Open a session; returns the cookie value (only its digest is stored)."""
    now = now or utcnow()
    secret = new_secret()
    session.add(OperatorSession(id=token_digest(secret), operator_id=operator.id,
                                created_at=now, last_seen_at=now, expires_at=now + SESSION_MAX_AGE,
                                address=address, user_agent=(user_agent or "")[:300] or None))
    return secret


def session_operator(session: Session, secret: str | None, now: datetime | None = None
                     ) -> tuple[Operator, str] | None:
    """The active operator of a live session and the session digest, or None."""
    if not secret or len(secret) > 200:
        return None
    now = now or utcnow()
    digest = token_digest(secret)
    row = session.get(OperatorSession, digest)
    if row is None:
        return None
    if row.expires_at <= now or now - row.last_seen_at > SESSION_IDLE:
        session.delete(row)
        return None
    operator = session.get(Operator, row.operator_id)
    if operator is None or not operator.active:
        return None
    if (now - row.last_seen_at).total_seconds() > _TOUCH_EVERY_S:
        row.last_seen_at = now
    return operator, digest


def end_session(session: Session, secret: str | None, *, actor: Actor | None = None) -> None:
    """Log one browser out (audited as ``logout`` when ``actor`` is given)."""
    if secret:
        session.execute(sa.delete(OperatorSession).where(
            OperatorSession.id == token_digest(secret)))
    if actor is not None:
        record_audit(session, actor, "logout")


def end_all_sessions(session: Session, operator_id: str, *, actor: Actor | None = None,
                     email: str | None = None) -> int:
    """Log an operator out everywhere; returns how many sessions ended.

    With ``actor``: audited as ``logout.everywhere`` (their own), or as
    ``operator.logout_everywhere`` of ``email`` when an admin does it to someone.
    """
    result = session.execute(sa.delete(OperatorSession).where(
        OperatorSession.operator_id == operator_id))
    ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if actor is not None and email is not None:
        record_audit(session, actor, "operator.logout_everywhere", target=email,
                     detail={"sessions": ended})
    elif actor is not None:
        record_audit(session, actor, "logout.everywhere", detail={"sessions": ended})
    return ended


# --- API tokens -------------------------------------------------------------------------------

def create_token(session: Session, email: str, name: str, *, actor: Actor | None = None
                 ) -> tuple[ApiToken, str]:
    """A new API token acting as ``email``; returns the row and the secret (shown once)."""
    operator = find_operator(session, email)
    if operator is None or not operator.active:
        raise Refused("Operator tidak ditemukan atau nonaktif.", "email")
    name = clean(name, "name").strip()
    if not name or len(name) > 100:
        raise Refused("Nama token wajib diisi (maksimal 100 karakter).", "name")
    secret = new_secret(API_TOKEN_PREFIX)
    row = ApiToken(operator_id=operator.id, name=name, token_sha256=token_digest(secret),
                   prefix=secret[:10], created_by=actor.name if actor else None)
    session.add(row)
    session.flush()
    record_audit(session, actor, "token.create", target=row.id,
                 detail={"name": name, "operator": operator.email})
    return row, secret


def list_tokens(session: Session) -> Sequence[tuple[ApiToken, str]]:
    """Every token with its operator's email, newest first."""
    rows = session.execute(sa.select(ApiToken, Operator.email)
                           .join(Operator, Operator.id == ApiToken.operator_id)
                           .order_by(ApiToken.created_at.desc()))
    return [(t, e) for t, e in rows]


def revoke_token(session: Session, token_id: str, *, actor: Actor | None = None) -> bool:
    """Revoke a token (kept for the record); returns whether it was live."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    record_audit(session, actor, "token.revoke", target=row.id, detail={"name": row.name})
    return True


def token_operator(session: Session, secret: str | None, now: datetime | None = None
                   ) -> tuple[ApiToken, Operator] | None:
    """The live token and its active operator for a bearer secret; records the use time."""
    if not secret or not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.scalars(sa.select(ApiToken).where(
        ApiToken.token_sha256 == token_digest(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    operator = session.get(Operator, row.operator_id)
    if operator is None or not operator.active:
        return None
    row.last_used_at = now or utcnow()
    return row, operator
