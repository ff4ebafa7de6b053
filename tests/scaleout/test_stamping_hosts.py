"""Stamping on several hosts: two ``stamping serve`` processes share one PostgreSQL.

Concurrent stamps through both spend exactly the quota there is (no double spend), serials are
unique, and one ``Idempotency-Key`` sent to both at once gives one stamp for one unit.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from probes import reference_pdf
from tests.conftest import postgres_available
from tests.scaleout.cluster import Cluster, drop_database, new_cluster, start_stamping_pair

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Cluster]:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must answer under CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    cluster = new_cluster(tmp_path)
    try:
        start_stamping_pair(cluster)
        yield cluster
    finally:
        cluster.stop_all()
        drop_database(cluster.status_url)
        drop_database(cluster.stamping_db)


def _auth(cluster: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.probe_token}"}


def _quota(cluster: Cluster, host: int) -> dict[str, int]:
    answer = httpx.get(cluster.stamping[host] + "/api/v1/quota", headers=_auth(cluster),
                       timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _buy(cluster: Cluster, quantity: int) -> None:
    answer = httpx.post(cluster.stamping[0] + "/api/v1/orders", json={"quantity": quantity},
                        headers={**_auth(cluster), "Idempotency-Key": uuid.uuid4().hex},
                        timeout=30)
    assert answer.status_code in (200, 201), answer.text
    assert _quota(cluster, 1)["available"] == quantity  # probe orders are paid at once


def _stamp(cluster: Cluster, host: int, key: str | None = None) -> httpx.Response:
    headers = _auth(cluster) | ({"Idempotency-Key": key} if key else {})
    return httpx.post(cluster.stamping[host] + "/api/v1/stamps", headers=headers, timeout=60,
                      files={"file": ("letter.pdf", reference_pdf(), "application/pdf")})


def test_two_hosts_never_spend_a_unit_twice(pair: Cluster) -> None:
    _buy(pair, 4)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda i: _stamp(pair, i % 2), range(10)))
    stamped = [a for a in answers if a.status_code == 201]
    assert len(stamped) == 4, [a.status_code for a in answers]
    assert all(a.status_code in (201, 402, 503) for a in answers), [a.text for a in answers]
    serials = [a.headers["X-Serial-Number"] for a in stamped]
    assert len(set(serials)) == 4
    assert {s for a in stamped for s in [a.headers["X-Serial-Number"]]} == set(serials)
    assert _quota(pair, 0)["available"] == 0 and _quota(pair, 1)["available"] == 0


def test_one_idempotency_key_on_two_hosts_is_one_stamp(pair: Cluster) -> None:
    _buy(pair, 3)
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: _stamp(pair, i % 2, key), range(4)))
    # the first is stamped; the others get the same stamp back or 409 while it is signing
    assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
    serials = {a.headers["X-Serial-Number"] for a in answers if a.status_code in (200, 201)}
    assert len(serials) == 1
    again = _stamp(pair, 1, key)
    assert again.status_code in (200, 201) and again.headers["X-Serial-Number"] in serials
    assert _quota(pair, 0)["available"] == 2  # one unit spent for one key
