# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Deadlines through the automation API: create, edit, decide; bad input names the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Deadline
from statuspage.models.operators import AuditEntry
from statuspage.settings import Settings
from tests.statuspage.test_admin_support import (
    OPERATOR,
    make_operator,
    make_token,
    reused_postgres,  # noqa: F401 - fixture
    settings,  # noqa: F401 - fixture
)

NEW = {"id": "cpns-2026", "agency": "BKN", "name_id": "Pendaftaran CPNS 2026",
       "name_en": "CPNS 2026 registration", "closes_at": "2026-12-20T23:59:00+07:00",
       "opened_at": "2026-12-01T00:00:00+07:00", "legal_min_days": 15,
       "components": ["pembelian", "pembubuhan"], "window_days": 7, "patience_s": 30,
       "contact": "helpdesk@example.invalid"}


@pytest.fixture
def api(client: TestClient, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    make_operator(settings, *OPERATOR)
    yield client, {"Authorization": f"Bearer {make_token(settings, OPERATOR[0])}"}


def test_create_edit_decide(api: tuple[TestClient, dict[str, str]], db: Database) -> None:
    client, auth = api
    created = client.post("/api/v1/deadlines", json=NEW, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["closes_at"] == "2026-12-20T16:59:00Z"
    edited = client.patch("/api/v1/deadlines/cpns-2026", json={"window_days": 5}, headers=auth)
    assert edited.status_code == 200 and edited.json()["window_days"] == 5
    decided = client.post("/api/v1/deadlines/cpns-2026/decision", headers=auth, json={
        "extended_to": "2026-12-24T23:59:00+07:00",
        "decision": "Diperpanjang sampai 24 Des 2026 23.59 WIB"})
    assert decided.status_code == 200, decided.text
    page = client.get("/deadlines/cpns-2026?lang=en")
    assert "Diperpanjang sampai 24 Des 2026 23.59 WIB" in page.text
    assert "Dec 24, 2026, 23:59 WIB" in page.text  # the deadline follows the decision
    with db.session() as session:
        actions = session.scalars(sa.select(AuditEntry.action)
                                  .where(AuditEntry.target == "cpns-2026")).all()
    assert sorted(actions) == ["deadline.create", "deadline.decision", "deadline.edit"]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"components": ["pembelian", "nope"]}, "components", "unknown component(s): nope"),
    ({"opened_at": "2026-12-21T00:00:00+07:00"}, "opened_at", "ends before it starts"),
    ({"closes_at": "2026-12-20T23:59:00"}, "closes_at", "with its zone"),
    ({"window_days": 0}, "window_days", "from 1 to 60"),
    ({"patience_s": float("inf")}, "patience_s", "from 1 to 600"),
    ({"demand_profile": [1] * 23}, "demand_profile", "24 non-negative numbers"),
    ({"agency": "BKN\x00"}, "agency", "control characters"),
    ({"id": "Bad Id"}, "id", "lowercase"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_input_names_the_field_and_writes_nothing(
        api: tuple[TestClient, dict[str, str]], db: Database, change: dict[str, object],
        field: str, words: str) -> None:
    client, auth = api
    body = {**NEW, **change}
    if body.get("patience_s") == float("inf"):
        response = client.post("/api/v1/deadlines", headers={**auth, "content-type":
                               "application/json"},
                               content=b'{"id":"x1","patience_s":1e999}')
        field, words = "patience_s", "not finite"  # refused as JSON, before the range
    else:
        response = client.post("/api/v1/deadlines", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert words in response.json()["errors"][field]
    with db.session() as session:
        assert session.get(Deadline, "cpns-2026") is None


def test_token_required_and_unknown_deadline(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    assert client.post("/api/v1/deadlines", json=NEW).status_code == 401
    missing = client.patch("/api/v1/deadlines/nope", json={"window_days": 3}, headers=auth)
    assert missing.status_code == 404
