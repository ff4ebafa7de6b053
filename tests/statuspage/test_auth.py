"""Passwords, sessions, lockouts and CSRF: pure rules and their database-backed state."""

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.auth import (
    SESSION_IDLE,
    SESSION_MAX_AGE,
    csrf_token,
    csrf_valid,
    origin_allowed,
    password_hasher,
    password_problem,
    token_digest,
    verify_password,
)
from statuspage.db import Database
from statuspage.models import utcnow
from statuspage.models.operators import AuditEntry, Operator, OperatorSession
from statuspage.settings import Settings
from statuspage.store import operators as ops
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    ADMIN,
    OPERATOR,
    admin,
    form_post,
    login,
    make_operator,
    reused_postgres,
    settings,
    sqlite_only,
)


def test_password_hashing() -> None:
    hasher = password_hasher("test")
    stored = hasher.hash("benar-sekali-123")
    assert stored.startswith("$argon2id$")
    assert verify_password(hasher, stored, "benar-sekali-123")
    assert not verify_password(hasher, stored, "salah")
    assert not verify_password(hasher, None, "apa saja")
    assert not verify_password(hasher, "bukan-hash", "apa saja")


def test_production_hasher_keeps_strong_defaults() -> None:
    hasher = password_hasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    with pytest.raises(ValueError):
        password_hasher("weak")


@pytest.mark.parametrize(("password", "ok"), [("pendek", False), ("x" * 10, True),
                                              ("x" * 257, False)])
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok


def test_csrf_tokens_are_bound() -> None:
    token = csrf_token("k", "session-a")
    assert csrf_valid("k", "session-a", token)
    assert not csrf_valid("k", "session-b", token)
    assert not csrf_valid("other-key", "session-a", token)
    assert not csrf_valid("k", None, token)
    assert not csrf_valid("k", "session-a", None)


@pytest.mark.parametrize(("headers", "ok"), [
    ({}, True),
    ({"origin": "http://testserver"}, True),
    ({"origin": "HTTP://TESTSERVER"}, True),
    ({"origin": "http://testserver.evil"}, False),
    ({"origin": "null"}, False),
    ({"referer": "http://testserver/admin"}, True),
    ({"referer": "https://evil.example/x"}, False),
])
def test_origin_check(headers: dict[str, str], ok: bool) -> None:
    assert origin_allowed(headers, ["http://testserver"]) is ok


@sqlite_only
def test_session_cookie_flags(settings: Settings) -> None:
    make_operator(settings, *ADMIN, role="admin")
    secure = settings.with_changes(cookie_secure=True)
    with TestClient(create_app(secure), base_url="https://testserver") as client:
        response = login(client, *ADMIN)
        assert response.status_code == 303 and response.headers["location"] == "/admin"
        cookie = next(v for k, v in response.headers.multi_items()
                      if k == "set-cookie" and v.startswith("sp_session="))
        lowered = cookie.lower()
        for flag in ("httponly", "samesite=lax", "secure", "path=/admin", "max-age="):
            assert flag in lowered, flag
        assert client.get("/admin").status_code == 200


@sqlite_only
def test_only_digests_are_stored(db: Database, admin: TestClient) -> None:
    secret = admin.cookies.get("sp_session")
    assert secret
    with db.session() as s:
        ids = list(s.scalars(sa.select(OperatorSession.id)))
        assert ids == [token_digest(secret)]
        assert secret not in ids


def test_lockout_per_account_and_admin_unlock(settings: Settings, db: Database) -> None:
    make_operator(settings, *OPERATOR)
    make_operator(settings, *ADMIN, role="admin")
    with TestClient(create_app(settings)) as client:
        for _ in range(3):  # ThrottlePolicy.account_free: then each attempt waits, doubling
            assert login(client, OPERATOR[0], "tebakan-salah").status_code == 401
        fourth = login(client, OPERATOR[0], "tebakan-salah")
        assert fourth.status_code == 429 and int(fourth.headers["retry-after"]) >= 1
        # from an address with failures, the right password waits too (same message for any
        # account)
        locked = login(client, OPERATOR[0], OPERATOR[1])
        assert locked.status_code == 429 and "Coba lagi dalam" in locked.text
    # another web process (another app on the same database) sees the same lock
    with TestClient(create_app(settings)) as other:
        assert login(other, OPERATOR[0], OPERATOR[1]).status_code == 429
        # an admin (not locked) lifts it in the console
        assert login(other, *ADMIN).status_code == 303
        page = other.get("/admin/operators")
        assert f"account:{OPERATOR[0]}" in page.text
        lifted = form_post(other, "/admin/operators", "/admin/locks/unlock",
                           {"key": f"account:{OPERATOR[0]}"})
        assert lifted.status_code == 303
    with TestClient(create_app(settings)) as client:
        assert login(client, OPERATOR[0], OPERATOR[1]).status_code == 303
    with db.session() as s:
        actions = list(s.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("login.failed") == 3
    assert "login.refused_locked" in actions and "login.unlock" in actions


def test_lockout_per_address(db: Database, settings: Settings) -> None:
    hasher = password_hasher(settings.argon2_profile)
    policy = ops.ThrottlePolicy(address_failures=3)
    for i in range(3):
        with db.session() as s:
            result = ops.authenticate(s, hasher, f"orang{i}@example.id", "x",
                                      address="10.0.0.9", policy=policy)
    assert result.reason == "invalid"  # the third is checked, and blocks the address
    make_operator(settings, *OPERATOR)
    with db.session() as s:
        assert ops.authenticate(s, hasher, OPERATOR[0], OPERATOR[1], address="10.0.0.9",
                                policy=policy).reason == "locked"
    with db.session() as s:  # another address is not affected
        assert ops.authenticate(s, hasher, OPERATOR[0], OPERATOR[1], address="10.0.0.8",
                                policy=policy).operator is not None
    with db.session() as s:
        assert [lock.key for lock in ops.list_locks(s)] == ["address:10.0.0.9"]
        assert ops.unlock(s, "address:10.0.0.9")
    with db.session() as s:
        assert ops.list_locks(s) == []


def test_lockout_expires_by_itself(db: Database, settings: Settings) -> None:
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    now = utcnow()
    for _ in range(5):
        with db.session() as s:
            ops.authenticate(s, hasher, OPERATOR[0], "salah", address="1.2.3.4", now=now)
    with db.session() as s:
        assert ops.authenticate(s, hasher, OPERATOR[0], OPERATOR[1], address="1.2.3.4",
                                now=now + timedelta(seconds=1)).reason == "locked"
    with db.session() as s:
        assert ops.authenticate(s, hasher, OPERATOR[0], OPERATOR[1], address="1.2.3.4",
                                now=now + timedelta(seconds=3)).operator is not None


def test_sessions_expire(db: Database, settings: Settings) -> None:
    make_operator(settings, *OPERATOR)
    now = utcnow()
    with db.session() as s:
        op = ops.find_operator(s, OPERATOR[0])
        assert op is not None
        secret = ops.start_session(s, op, address=None, user_agent=None, now=now)
    with db.session() as s:
        assert ops.session_operator(s, secret, now + SESSION_IDLE / 2) is not None
    with db.session() as s:  # idle too long (counted from the last touch)
        assert ops.session_operator(s, secret, now + SESSION_IDLE / 2 + SESSION_IDLE
                                    + timedelta(seconds=1)) is None
    with db.session() as s:
        op = ops.find_operator(s, OPERATOR[0])
        assert op is not None
        secret = ops.start_session(s, op, address=None, user_agent=None, now=now)
    step = now
    while step < now + SESSION_MAX_AGE - SESSION_IDLE:  # active all week long
        step += SESSION_IDLE / 2
        with db.session() as s:
            assert ops.session_operator(s, secret, step) is not None
    with db.session() as s:
        assert ops.session_operator(s, secret, now + SESSION_MAX_AGE) is None
    with db.session() as s:
        assert ops.session_operator(s, "tidak-ada", now) is None


def test_logout_everywhere(settings: Settings, db: Database) -> None:
    make_operator(settings, *OPERATOR)
    app = create_app(settings)
    with TestClient(app) as phone, TestClient(create_app(settings)) as laptop:
        assert login(phone, *OPERATOR).status_code == 303
        assert login(laptop, *OPERATOR).status_code == 303
        assert laptop.get("/admin", follow_redirects=False).status_code == 200
        out = form_post(phone, "/admin/account", "/admin/logout-everywhere", {})
        assert out.status_code == 303
        assert laptop.get("/admin", follow_redirects=False).status_code == 303
        assert phone.get("/admin", follow_redirects=False).status_code == 303
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OperatorSession)) == 0


@sqlite_only
def test_logout_and_deactivation(admin: TestClient, settings: Settings, db: Database) -> None:
    make_operator(settings, *OPERATOR)
    with TestClient(create_app(settings)) as ops_client:
        assert login(ops_client, *OPERATOR).status_code == 303
        with db.session() as s:
            oid = s.scalars(sa.select(Operator.id).where(Operator.email == OPERATOR[0])).one()
        off = form_post(admin, "/admin/operators", f"/admin/operators/{oid}", {"active": "0"})
        assert off.status_code == 303
        assert ops_client.get("/admin", follow_redirects=False).status_code == 303
        assert login(ops_client, *OPERATOR).status_code == 401
    out = form_post(admin, "/admin", "/admin/logout", {})
    assert out.status_code == 303
    assert admin.get("/admin", follow_redirects=False).status_code == 303


@sqlite_only
def test_login_redirects_only_inside_the_console(settings: Settings) -> None:
    make_operator(settings, *OPERATOR)
    with TestClient(create_app(settings)) as client:
        for target, expected in (("/admin/maintenance", "/admin/maintenance"),
                                 ("https://evil.example", "/admin"), ("//evil.example", "/admin"),
                                 ("/admin\\@evil", "/admin")):
            page = client.get("/admin/login", params={"next": target})
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            response = client.post("/admin/login", data={
                "email": OPERATOR[0], "password": OPERATOR[1], "csrf_token": token,
                "next": target}, follow_redirects=False)
            assert response.headers["location"] == expected, target


@sqlite_only
def test_last_admin_cannot_be_demoted(admin: TestClient, db: Database) -> None:
    with db.session() as s:
        oid = s.scalars(sa.select(Operator.id).where(Operator.email == ADMIN[0])).one()
    response = form_post(admin, "/admin/operators", f"/admin/operators/{oid}",
                         {"role": "operator"})
    assert response.status_code == 422 and "admin aktif" in response.text
    with db.session() as s:
        assert s.get(Operator, oid).role == "admin"  # type: ignore[union-attr]


@sqlite_only
def test_change_own_password(settings: Settings) -> None:
    make_operator(settings, *OPERATOR)
    with TestClient(create_app(settings)) as client:
        assert login(client, *OPERATOR).status_code == 303
        wrong = form_post(client, "/admin/account", "/admin/account/password", {
            "current_password": "salah", "new_password": "baru-sekali-123"})
        assert wrong.status_code == 422
        short = form_post(client, "/admin/account", "/admin/account/password", {
            "current_password": OPERATOR[1], "new_password": "pendek"})
        assert short.status_code == 422 and "minimal" in short.text
        done = form_post(client, "/admin/account", "/admin/account/password", {
            "current_password": OPERATOR[1], "new_password": "baru-sekali-123"})
        assert done.status_code == 303
        assert client.get("/admin", follow_redirects=False).status_code == 303
        assert login(client, OPERATOR[0], "baru-sekali-123").status_code == 303


def test_login_prunes_expired_sessions_and_stale_throttles(db: Database,
                                                           settings: Settings) -> None:
    make_operator(settings, *OPERATOR)
    hasher = password_hasher(settings.argon2_profile)
    old = utcnow() - SESSION_MAX_AGE - timedelta(days=1)
    with db.session() as s:
        op = ops.find_operator(s, OPERATOR[0])
        assert op is not None
        ops.start_session(s, op, address=None, user_agent=None, now=old)
        ops.authenticate(s, hasher, "someone@example.id", "x", address="10.1.1.1", now=old)
    with db.session() as s:
        assert ops.authenticate(s, hasher, *OPERATOR, address="10.1.1.2").operator is not None
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OperatorSession)) == 0
        keys = set(s.scalars(sa.select(ops.LoginThrottle.key)))
        assert "account:someone@example.id" not in keys
