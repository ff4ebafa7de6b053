"""Every signing job has a deadline; a stuck worker is killed and replaced (issue 8, item 1).

The hostile documents of ``pdfs.hostile_pdfs`` are refused with a 4xx before they can loop;
the CPU deadline inside the worker stops what computes too long; the wall-clock deadline in
the web process kills workers that stopped answering (here: frozen with SIGSTOP, which no
timer inside the worker can see) and starts a new pool.  Each refusal gives the unit back,
and ``/readyz`` says when the pool cannot sign.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.document_error import DocumentError
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register
from tests.stamping.pdfs import hostile_pdfs, make_pdf

#: The status and error code each hostile document must get.
EXPECTED = {
    "parent_loop": (422, "corrupt_pdf"), "self_parent": (422, "corrupt_pdf"),
    "kids_loop": (422, "corrupt_pdf"), "fields_loop": (422, "corrupt_pdf"),
    "self_reference": (422, "corrupt_pdf"), "short_mediabox": (422, "corrupt_pdf"),
    "flat_mediabox": (422, "corrupt_pdf"), "huge_mediabox": (422, "corrupt_pdf"),
    "corrupt_flate": (422, "corrupt_pdf"),
}


def _spin(_: object) -> None:
    """A job that computes forever (what the looping /Parent walk did)."""
    while True:
        pass


def _worker_pids(client: TestClient) -> list[int]:
    executor = client.app.state.service.pool._executor  # type: ignore[attr-defined]
    return sorted(executor._processes)


def _quota(client: TestClient, token: str) -> dict[str, int]:
    return dict(client.get("/api/v1/quota", headers=auth(token)).json())


def test_hostile_documents_are_refused_quickly_and_spend_nothing(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(sign_cpu_seconds=5))) as client:
        token = register(client)
        buy(client, token, 2)
        for name, data in hostile_pdfs().items():
            started = time.monotonic()
            r = client.post("/api/v1/stamps", files=pdf_file(data), headers=auth(token))
            status, error = EXPECTED[name]
            assert r.status_code == status, (name, r.text[:300])
            if error is not None:
                assert r.json()["error"] == error and r.json()["message"], name
            assert time.monotonic() - started < 5, name
        assert _quota(client, token) == {"available": 2, "spent": 0}
        r = client.post("/api/v1/verify", files=pdf_file(hostile_pdfs()["fields_loop"]))
        assert r.status_code == 422 and r.json()["error"] == "corrupt_pdf"


def test_cpu_deadline_stops_a_job_and_the_worker_carries_on(
        make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(sign_cpu_seconds=0.5))) as client:
        pool = client.app.state.service.pool  # type: ignore[attr-defined]
        pids = _worker_pids(client)
        with pytest.raises(DocumentError) as info:
            client.portal.call(pool.run, _spin, None)  # type: ignore[union-attr]
        assert info.value.code == "too_complex"
        assert _worker_pids(client) == pids and pool.restarts == 0
    # Through the API: a long document past a tiny budget is refused, the unit given back.
    with TestClient(create_app(make_settings(sign_cpu_seconds=0.01))) as client:
        token = register(client)
        buy(client, token, 1)
        r = client.post("/api/v1/stamps", files=pdf_file(make_pdf(pages=400)),
                        headers=auth(token))
        assert r.status_code == 422 and r.json()["error"] == "too_complex", r.text
        assert _quota(client, token) == {"available": 1, "spent": 0}


def _wait_ready(client: TestClient, seconds: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        if r.status_code == 200:
            return dict(r.json())
        time.sleep(0.1)
    pytest.fail(f"not ready after {seconds} s: {client.get('/readyz').text}")


def test_frozen_workers_are_killed_and_replaced_and_readiness_tells(
        make_settings: Callable[..., Settings], sample_pdf: bytes) -> None:
    settings = make_settings(sign_wall_seconds=3)
    with TestClient(create_app(settings)) as client:
        token = register(client)
        buy(client, token, 3)
        old = _worker_pids(client)
        for pid in old:  # a stuck worker no timer inside it can stop
            os.kill(pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(2) as threads:
                futures = [threads.submit(client.post, "/api/v1/stamps",
                                          files=pdf_file(sample_pdf), headers=auth(token))
                           for _ in range(2)]
                time.sleep(2.0)  # past half the deadline: the pool cannot sign
                ready = client.get("/readyz")
                assert ready.status_code == 503, ready.text
                assert "past half the job deadline" in ready.json()["checks"]["signing_pool"]
                assert ready.headers["retry-after"]
                # A new job is not queued behind the stuck ones: 503 at once, nothing spent.
                r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                                headers=auth(token))
                assert r.status_code == 503 and r.json()["error"] == "signing_unavailable"
                assert r.headers["retry-after"]
                results = [f.result(timeout=30) for f in futures]
        finally:
            for pid in old:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        statuses = sorted((r.status_code, r.json()["error"]) for r in results)
        # The job that hit its deadline is refused as too complex; the other one shared the
        # killed pool and is told to retry (503).  Both gave their unit back.
        assert statuses[0] == (422, "too_complex") and statuses[1][0] in (422, 503), statuses
        assert _quota(client, token) == {"available": 3, "spent": 0}
        body = _wait_ready(client)
        assert body["pool_restarts"] == 1
        for pid in old:
            assert not _alive(pid), f"old worker {pid} is still running"
        assert set(_worker_pids(client)).isdisjoint(old)
        r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
        assert r.status_code == 201


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
