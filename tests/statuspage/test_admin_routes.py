"""Walk the app's route table: every /admin route is guarded, every write needs CSRF.

New routes are covered automatically: the walk reads ``app.routes``, not a list kept by hand.
"""

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.app import routes as all_routes
from statuspage.settings import Settings
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    ADMIN,
    admin,
    csrf_from,
    operator,
    reused_postgres,
    settings,
    sqlite_only,
)

PUBLIC_ADMIN = {("/admin/login", "GET"), ("/admin/login", "POST")}
ADMIN_ONLY = ("/admin/operators", "/admin/tokens", "/admin/audit", "/admin/locks")
_PARAM = re.compile(r"\{[^}]+\}")


def admin_routes() -> list[tuple[str, str]]:
    """(path with placeholders filled, method) for every /admin route."""
    found = []
    for route in all_routes():
        if isinstance(route, Route) and route.path.startswith("/admin"):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    found.append((_PARAM.sub("zzzzzzzz", route.path), method))
    return found


def test_the_walk_finds_the_console() -> None:
    found = admin_routes()
    assert len(found) >= 25
    assert ("/admin/incidents/new", "POST") in found


@sqlite_only
def test_every_admin_route_needs_a_session(client: TestClient) -> None:
    for path, method in admin_routes():
        if (path, method) in PUBLIC_ADMIN:
            continue
        response = client.request(method, path, follow_redirects=False)
        assert response.status_code in (303, 401, 403), (method, path, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/admin/login?next="), path


@sqlite_only
def test_every_write_rejects_missing_or_wrong_csrf(admin: TestClient) -> None:
    writes = [(p, m) for p, m in admin_routes() if m != "GET" and (p, m) not in PUBLIC_ADMIN]
    assert len(writes) >= 15
    for path, method in writes:
        missing = admin.request(method, path, data={"body": "x"}, follow_redirects=False)
        assert missing.status_code == 403, (path, missing.status_code)
        wrong = admin.request(method, path, data={"csrf_token": "0" * 64},
                              follow_redirects=False)
        assert wrong.status_code == 403, (path, wrong.status_code)
    # and the session is still fine afterwards
    assert admin.get("/admin").status_code == 200


@sqlite_only
def test_cross_origin_post_is_refused_even_with_token(admin: TestClient) -> None:
    token = csrf_from(admin.get("/admin/incidents/new").text)
    data = {"csrf_token": token, "name": "x", "status": "investigating", "impact": "minor",
            "body": "x", "action": "create"}
    for header in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                   {"Referer": "https://evil.example/page"}):
        response = admin.post("/admin/incidents/new", data=data, headers=header,
                              follow_redirects=False)
        assert response.status_code == 403, header
    same = admin.post("/admin/incidents/new", data=data,
                      headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303


@sqlite_only
def test_login_itself_checks_csrf(settings: Settings, admin: TestClient) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.post("/admin/login", data={"email": ADMIN[0], "password": ADMIN[1]},
                               follow_redirects=False)
    assert response.status_code == 403
    assert "sp_session" not in response.cookies


@sqlite_only
def test_admin_pages_forbidden_to_operators(operator: TestClient) -> None:
    assert operator.get("/admin").status_code == 200
    for path, method in admin_routes():
        if path.startswith(ADMIN_ONLY):
            data = {"csrf_token": csrf_from(operator.get("/admin").text)}
            response = operator.request(method, path, data=data if method != "GET" else None,
                                        follow_redirects=False)
            assert response.status_code == 403, (method, path)


@sqlite_only
def test_console_responses_are_not_cached_or_framed(admin: TestClient) -> None:
    response = admin.get("/admin")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]


@sqlite_only
def test_api_routes_need_a_token(client: TestClient, app: Starlette) -> None:
    api = [(r.path, m) for r in all_routes() if isinstance(r, Route)
           and r.path.startswith("/api/v1/") and r.path != "/api/v1/agent"
           for m in (r.methods or {"GET"}) if m != "HEAD"]
    mine = [(p, m) for p, m in api if p.startswith(("/api/v1/incidents", "/api/v1/maint"))]
    assert len(mine) >= 5
    for path, method in mine:
        url = _PARAM.sub("zzzzzzzz", path)
        for headers in ({}, {"Authorization": "Bearer spt_wrong"}, {"Authorization": "Basic x"}):
            response = client.request(method, url, json={}, headers=headers)
            assert response.status_code == 401, (method, url, headers)
            assert response.json()["error"] == "unauthorized"
