# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Login throttling under attack: parallel guesses are counted before any hash is checked, an
address is throttled first, an account slows down instead of locking hard, a right password
from a clean address gets in, and a forged X-Forwarded-For counts only from a trusted proxy."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.auth import ThrottlePolicy, password_hasher
from statuspage.db import Database
from statuspage.models import utcnow
from statuspage.models.operators import LoginThrottle
from statuspage.settings import Settings
from statuspage.store import operators as ops
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    OPERATOR,
    login,
    make_operator,
    reused_postgres,
    settings,
)

POLICY = ThrottlePolicy()


def test_parallel_guesses_are_counted_before_any_hash_is_checked(settings: Settings,
                                                                 db: Database) -> None:
    """30 simultaneous logins for one account from one address, the right password among
    them: at most ``account_free`` passwords are checked, and the right one gets in only if
    it was among those (never after the limit was reached). A right password starts the
    account afresh, so when it was checked and recorded while the burst was still being
    admitted, the guesses admitted after it get a fresh allowance, never more."""
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    start = threading.Barrier(30)
    outcomes: list[tuple[bool, str, str | None]] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        password = OPERATOR[1] if index == 15 else f"tebakan-{index}"
        start.wait()
        with db.session() as session:
            check = ops.login_check(session, OPERATOR[0], address="198.51.100.7")
        ok, _ = ops.check_password(hasher, check, password)
        with db.session() as session:
            result = ops.record_login(session, check, ok=ok, address="198.51.100.7")
        with lock:
            outcomes.append((not check.locked, password, result.reason))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 30
    checked = [o for o in outcomes if o[0]]
    wrong = [o for o in checked if o[1] != OPERATOR[1]]
    # before the success: at most account_free checks, the right one among them; after it,
    # at most account_free more
    allowance = (2 * POLICY.account_free - 1 if len(wrong) < len(checked)
                 else POLICY.account_free)
    assert 1 <= len(checked) and len(wrong) <= allowance, checked
    right = next(o for o in outcomes if o[1] == OPERATOR[1])
    assert right[2] is None if right[0] else right[2] == "locked"


def test_a_burst_of_wrong_guesses_checks_at_most_the_free_allowance(settings: Settings,
                                                                   db: Database) -> None:
    """Without the right password in the burst nothing resets the account: 30 simultaneous
    wrong guesses from one address get exactly ``account_free`` password checks."""
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    start = threading.Barrier(30)
    checked: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        start.wait()
        with db.session() as session:
            check = ops.login_check(session, OPERATOR[0], address="198.51.100.8")
        ok, _ = ops.check_password(hasher, check, f"tebakan-{index}")
        with db.session() as session:
            ops.record_login(session, check, ok=ok, address="198.51.100.8")
        if not check.locked:
            with lock:
                checked.append(f"tebakan-{index}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(checked) == POLICY.account_free, checked


def test_account_slows_down_and_a_clean_address_still_gets_in(settings: Settings,
                                                              db: Database) -> None:
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    now = utcnow()

    def attempt(password: str, address: str, at: timedelta) -> ops.LoginResult:
        with db.session() as session:
            return ops.authenticate(session, hasher, OPERATOR[0], password, address=address,
                                    now=now + at)

    attacker = "203.0.113.66"
    reasons = [attempt("salah", attacker, timedelta(0)).reason for _ in range(5)]
    assert reasons == ["invalid"] * POLICY.account_free + ["locked"] * 2
    # the attacker waits the delay out, fails again: the next delay is twice as long
    assert attempt("salah", attacker, timedelta(seconds=2.5)).reason == "invalid"
    assert attempt("salah", attacker, timedelta(seconds=5)).reason == "locked"
    assert attempt("salah", attacker, timedelta(seconds=7)).reason == "invalid"
    with db.session() as session:
        row = session.get(LoginThrottle, f"account:{OPERATOR[0]}")
        assert row is not None and row.locked_until is not None
        assert row.locked_until - (now + timedelta(seconds=7)) == timedelta(seconds=8)
    # the real operator, from an address with no recent failures, is not held up
    assert attempt(OPERATOR[1], "192.0.2.10", timedelta(seconds=7)).operator is not None
    # and the success starts the account afresh (the attacker's address keeps its count)
    assert attempt("salah", attacker, timedelta(seconds=8)).reason == "invalid"


def test_address_is_throttled_first(settings: Settings, db: Database) -> None:
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    for i in range(POLICY.address_failures):
        with db.session() as session:  # a different account each time: no account slowdown
            ops.authenticate(session, hasher, f"orang{i}@example.id", "x", address="10.9.9.9")
    with db.session() as session:
        blocked = ops.authenticate(session, hasher, *OPERATOR, address="10.9.9.9")
        assert blocked.reason == "locked"
    with db.session() as session:
        assert ops.authenticate(session, hasher, *OPERATOR, address="10.9.9.8").operator
    with db.session() as session:
        keys = [lock.key for lock in ops.list_locks(session)]
        assert keys == ["address:10.9.9.9"]


def _address_failures(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {row.key: row.failures for row in session.scalars(
            sa.select(LoginThrottle).where(LoginThrottle.key.like("address:%")))}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_forwarded_for_counts_only_from_a_trusted_proxy(settings: Settings,
                                                        db: Database) -> None:
    make_operator(settings, *OPERATOR)
    spoofed = {"X-Forwarded-For": "198.51.100.1"}
    with TestClient(create_app(settings), client=("192.0.2.50", 40000),
                    headers=spoofed) as client:
        assert login(client, OPERATOR[0], "salah").status_code == 401
    assert _address_failures(db) == {"address:192.0.2.50": 1}
    behind = settings.with_changes(trusted_proxies=("192.0.2.0/24",))
    with TestClient(create_app(behind), client=("192.0.2.50", 40000),
                    headers=spoofed) as client:
        assert login(client, OPERATOR[0], "salah").status_code == 401
    assert _address_failures(db) == {"address:192.0.2.50": 1, "address:198.51.100.1": 1}


def test_trusted_proxies_setting_is_checked() -> None:
    env = {"STATUSPAGE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}
    assert Settings.from_env(env, secret_key="k").trusted_proxies == ("10.0.0.1",
                                                                      "192.168.0.0/16")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings.from_env({"STATUSPAGE_TRUSTED_PROXIES": "proxy.local"}, secret_key="k")
