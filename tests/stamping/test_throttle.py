"""Login and OTP throttling, per phone number and per address (issue 8, item 7).

The counters are in the database: two apps on one database (two web processes) share them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.settings import Settings
from stamping.throttle import window_start
from tests.stamping.conftest import register

PHONE = "081234567890"
RIGHT = "rahasia-sekali"


def _login(client: TestClient, password: str, phone: str = PHONE) -> int:
    r = client.post("/api/v1/login", json={"phone": phone, "password": password})
    if r.status_code == 429:
        assert r.json()["error"] == "too_many_requests" and int(r.headers["retry-after"]) > 0
    return r.status_code


def test_wrong_passwords_are_throttled_but_the_owner_gets_in(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(login_failures_per_phone=5, login_per_address=12)
    with TestClient(create_app(settings)) as attacker, \
            TestClient(create_app(settings), client=("203.0.113.9", 5000)) as owner:
        register(attacker)
        statuses = [_login(attacker, f"guess-{n:04d}") for n in range(8)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3, statuses
        # The right password from the attacking address is refused too: no oracle.
        assert _login(attacker, RIGHT) == 429
        # The owner, from an address without failures, still logs in (another process).
        assert _login(owner, RIGHT) == 200
        # The attacker's address runs out of attempts whatever the phone number: 12 in the
        # window, of which 5 were counted above (refused attempts are not).
        others = [_login(attacker, "x" * 8, phone=f"0812000000{n:02d}") for n in range(8)]
        assert others == [401] * 7 + [429], others


def test_otp_messages_are_throttled_per_number_and_per_address(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(otp_per_phone=3, otp_per_address=5)
    body = {"phone": "081255550000", "name": "Ani", "password": "kata-sandi-1"}
    with TestClient(create_app(settings)) as one, \
            TestClient(create_app(settings), client=("198.51.100.7", 5000)) as two:
        first = [one.post("/api/v1/accounts", json=body).status_code for _ in range(3)]
        assert first == [201] * 3
        # The same number from another process and address: the per-number limit holds.
        r = two.post("/api/v1/accounts", json=body)
        assert r.status_code == 429 and r.headers["retry-after"]
        statuses = [one.post("/api/v1/accounts", json={**body, "phone": f"08125555{n:04d}"}
                             ).status_code for n in range(1, 4)]
        assert statuses == [201, 201, 429], statuses  # 5 per address
        outbox = one.app.state.service.db.read_sync(  # type: ignore[attr-defined]
            lambda s: s.execute(__import__("sqlalchemy").text(
                "SELECT count(*) FROM otp_outbox")).scalar_one())
        assert outbox == 5


def test_windows_are_fixed_and_aligned() -> None:
    t = dt.datetime(2026, 12, 2, 18, 7, 31, tzinfo=dt.UTC)
    assert window_start(t, 900) == dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)
    assert window_start(t + dt.timedelta(minutes=8), 900) == dt.datetime(
        2026, 12, 2, 18, 15, tzinfo=dt.UTC)
