"""Security primitives of the operator console: passwords, tokens, CSRF, origins, throttling rules.

Pure functions and constants, no database: the persistence of sessions, tokens and throttles is in
``statuspage.store.operators``. Choices, and why:

- Passwords: argon2id with argon2-cffi's defaults (RFC 9106 "low memory" profile). Tests pass
  ``Settings.argon2_profile = "test"`` for cheap parameters; production never does.
- Session ids and API tokens: 256-bit random strings; the database keeps only their SHA-256, a
  fast hash being enough for high-entropy secrets (and one indexed lookup per request).
- CSRF: the synchroniser token is an HMAC of the session id (or, before login, of a random
  pre-login cookie) under the secret key, so no extra storage is needed and every process agrees.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "API_TOKEN_PREFIX",
    "CSRF_FIELD",
    "PRELOGIN_COOKIE",
    "SESSION_COOKIE",
    "SESSION_IDLE",
    "SESSION_MAX_AGE",
    "ThrottlePolicy",
    "csrf_token",
    "csrf_valid",
    "generate_password",
    "hash_password",
    "new_secret",
    "origin_allowed",
    "password_hasher",
    "password_problem",
    "token_digest",
    "verify_password",
]

SESSION_COOKIE = "sp_session"
PRELOGIN_COOKIE = "sp_prelogin"
CSRF_FIELD = "csrf_token"
API_TOKEN_PREFIX = "spt_"  # noqa: S105 - a public prefix, not a secret
#: A session ends after this long without a request...
SESSION_IDLE = timedelta(hours=8)
#: ...and in any case this long after login (operators log in again once a week).
SESSION_MAX_AGE = timedelta(days=7)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_PROFILES: dict[str, tuple[int, int, int]] = {
    # (time_cost, memory_cost KiB, parallelism); argon2-cffi's defaults, RFC 9106 low-memory
    "default": (3, 65536, 4),
    # only for tests: a hash in well under a millisecond
    "test": (1, 8, 1),
}


@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed logins slow down an address and an account.

    The address is throttled first: after ``address_failures`` failures in ``window`` it is
    refused for ``lockout`` (that only hurts whoever is failing from it; operators behind one
    office NAT get a generous limit). An account is never locked hard, or anyone could keep a
    real admin out: after ``account_free`` failures each further attempt waits ``account_delay``,
    doubling per failure up to ``account_max_delay``, and an address with no recent failures
    is not slowed down by the account at all, so the real operator gets in during an attack
    while a guesser spends one attempt per fresh address. Every admitted attempt is counted
    before its password is checked (refunded on success), so parallel attempts cannot all slip
    in under the limit. A slowdown expires by itself, and an admin can lift it at once.
    """

    window: timedelta = timedelta(minutes=15)
    address_failures: int = 20
    lockout: timedelta = timedelta(minutes=15)
    account_free: int = 3
    account_delay: timedelta = timedelta(seconds=2)
    account_max_delay: timedelta = timedelta(minutes=15)

    def account_wait(self, failures: int) -> timedelta:
        """How long an account waits after its ``failures``-th failure in the window."""
        if failures < self.account_free:
            return timedelta(0)
        steps = min(failures - self.account_free, 20)  # 2**20 s is past any sane maximum
        return min(self.account_delay * (2 ** steps), self.account_max_delay)


def password_hasher(profile: str = "default") -> PasswordHasher:
    """The argon2 hasher for a profile of ``Settings.argon2_profile``: default or test."""
    if profile not in _PROFILES:
        raise ValueError(f"unknown argon2_profile {profile!r}")
    time_cost, memory_cost, parallelism = _PROFILES[profile]
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The argon2 hash of ``password``."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no stored hash, spend the same time and say no."""
    if stored_hash is None:
        # equalise timing so a response time does not reveal whether the account exists
        hasher.hash(password)
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why ``password`` is unacceptable (in Indonesian, for the form), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Kata sandi maksimal {MAX_PASSWORD_LENGTH} karakter."
    return None


def generate_password(length: int = 20) -> str:
    """A random password without look-alike characters, easy to read out loud."""
    alphabet = [c for c in string.ascii_letters + string.digits if c not in "O0Il1"]
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_secret(prefix: str = "") -> str:
    """A fresh 256-bit random token (URL-safe), optionally prefixed so leaks are recognisable."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a session id or API token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(secret_key: str, binding: str) -> str:
    """The CSRF token for a session (``binding`` = session digest or pre-login cookie)."""
    mac = hmac.new(secret_key.encode("utf-8"), b"csrf\x00" + binding.encode("utf-8"),
                   hashlib.sha256)
    return mac.hexdigest()


def csrf_valid(secret_key: str, binding: str | None, candidate: str | None) -> bool:
    """Whether ``candidate`` is the CSRF token of ``binding`` (constant-time comparison)."""
    if not binding or not candidate:
        return False
    return hmac.compare_digest(csrf_token(secret_key, binding), candidate)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(headers: Mapping[str, str], allowed: Iterable[str]) -> bool:
    """Whether a state-changing request's Origin (or Referer) is one of ``allowed`` origins.

    Browsers send Origin on POST; when neither header is present (old clients, privacy
    settings) the CSRF token alone decides. ``Origin: null`` is refused.
    """
    allowed_set = {o for o in (_origin_of(a) for a in allowed) if o}
    origin = headers.get("origin")
    if origin is not None:
        return _origin_of(origin) in allowed_set
    referer = headers.get("referer")
    if referer:
        return _origin_of(referer) in allowed_set
    return True
