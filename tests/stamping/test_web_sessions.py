"""Web sessions have their own revocable tokens; logout revokes (issue 8, item 12)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.stamping.conftest import register


def _login(client: TestClient) -> str:
    client.get("/masuk")
    csrf = client.cookies["meterai_csrf"]
    r = client.post("/masuk", data={"csrf": csrf, "phone": "081234567890",
                                    "password": "rahasia-sekali"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(client.cookies["meterai_sesi"])


def test_the_session_cookie_is_not_an_api_token_and_logout_revokes_it(
        client: TestClient) -> None:
    register(client)
    cookie = _login(client)
    assert cookie.startswith("web_")
    assert client.get("/akun", follow_redirects=False).status_code == 200
    # The cookie is no API credential.
    r = client.get("/api/v1/quota", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401
    csrf = client.cookies["meterai_csrf"]
    assert client.post("/keluar", data={"csrf": csrf}, follow_redirects=False
                       ).status_code == 303
    # A copy of the cookie kept from before the logout no longer opens the account.
    client.cookies.set("meterai_sesi", cookie)
    r = client.get("/akun", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/masuk"


def test_sessions_are_separate_and_expire(client: TestClient) -> None:
    register(client)
    first = _login(client)
    client.cookies.delete("meterai_sesi")
    second = _login(client)
    assert first != second
    import datetime as dt

    from stamping import web_sessions
    db = client.app.state.service.db  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)
    assert db.read_sync(web_sessions.account_for_session, second, later) is None
    assert db.read_sync(web_sessions.account_for_session, first,
                        dt.datetime.now(dt.UTC)) is not None
