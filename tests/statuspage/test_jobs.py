"""The job table: guarded jobs, scheduler options, and the worker's and agent's tables."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
import pytest

from probes import ProbeResult, ProbeSpec
from statuspage.config import EvaluationConfig
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.evaluation import evaluate_component
from statuspage.jobs import (
    Confirmation,
    Intervals,
    Job,
    JobRunner,
    RecentLatency,
    agent_jobs,
    build_scheduler,
    probe_jobs,
    worker_jobs,
)
from tests.statuspage.test_probing_support import PROBE_CONFIG


class ListSink:
    """Collects results in memory."""

    def __init__(self) -> None:
        self.results: list[ProbeResult] = []

    async def submit(self, result: ProbeResult) -> None:
        self.results.append(result)


def mock_client(status: int = 200) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(
        lambda request: httpx.Response(status, text="ok")))


@pytest.mark.parametrize(
    ("func", "log_text"),
    [
        ("boom", "job demo failed"),
        ("slow", "job demo timed out"),
        ("fine", None),
    ],
)
def test_guarded_jobs_never_raise(func: str, log_text: str | None,
                                  caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("broken")

    async def slow() -> None:
        await asyncio.sleep(5)

    async def fine() -> None:
        return None

    runner = JobRunner()
    job = Job("demo", {"boom": boom, "slow": slow, "fine": fine}[func], 1.0, timeout_s=0.05)
    with caplog.at_level(logging.INFO):
        asyncio.run(runner.guarded(job)())
    if log_text:
        assert log_text in caplog.text
    else:
        assert "demo" not in caplog.text
    assert runner.running == set()


def test_scheduler_options_for_every_job() -> None:
    async def noop() -> None:
        return None

    jobs = [Job("a", noop, 30.0, jitter_s=3.0), Job("b", noop, 0.5)]
    start = datetime(2026, 11, 27, 10, tzinfo=UTC)
    scheduler = build_scheduler(jobs, JobRunner(), now=start)
    added = {job.id: job for job in scheduler.get_jobs()}
    assert set(added) == {"a", "b"}
    for job in added.values():
        assert job.max_instances == 1 and job.coalesce is True
        assert job.next_run_time == start  # runs once at start
    assert added["a"].trigger.jitter == 3.0
    assert added["b"].trigger.interval.total_seconds() == 0.5


def test_probe_jobs_run_the_probe_and_hand_over_the_result() -> None:
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=2)
    sink = ListSink()

    async def go() -> None:
        async with mock_client() as client:
            (job,) = probe_jobs([spec], {"availability": 30.0}, client, sink, "medan")
            assert (job.name, job.every_s, job.jitter_s) == ("probe:availability", 30.0, 3.0)
            await JobRunner().guarded(job)()

    asyncio.run(go())
    (result,) = sink.results
    assert (result.probe, result.outcome, result.location) == ("availability", "ok", "medan")


@pytest.mark.parametrize(("code", "evaluated"), [(200, 0), (503, 1), (429, 1), (404, 1)])
def test_a_failed_run_is_evaluated_at_once(code: int, evaluated: int) -> None:
    """Any result that is not ok triggers an evaluation right away (no fast path here)."""
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=2)
    sink, calls = ListSink(), []

    async def on_failure() -> None:
        calls.append(True)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(
                lambda r: httpx.Response(code))) as client:
            (job,) = probe_jobs([spec], {"availability": 30.0}, client, sink, "local",
                                None, on_failure)
            await JobRunner().guarded(job)()

    asyncio.run(go())
    assert len(calls) == evaluated
    assert len(sink.results) == 1


@pytest.mark.parametrize(
    ("answers", "fast_failures", "runs", "confirmed"),
    [
        ([503], 2, 2, True),              # down, confirmed by a second run at once
        ([503, 200], 2, 2, False),        # the confirmation succeeded: no alarm
        ([500, 500, 500], 3, 3, True),    # fast_failures = 3: two confirmations
        ([500, 500, 200], 3, 3, False),
        ([429], 2, 1, False),             # a 4xx can be noise: no confirmation
        ([200], 2, 1, False),
    ],
)
def test_hard_failures_are_confirmed_at_once(answers: list[int], fast_failures: int, runs: int,
                                             confirmed: bool) -> None:
    """A hard failure runs the probe again ``confirm_after_s`` later, so the fast path sees
    its consecutive failures within seconds; an all-hard streak triggers ``on_confirmed``."""
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=2)
    sink, calls, triggered = ListSink(), iter(answers), []

    def answer(request: httpx.Request) -> httpx.Response:
        code = next(calls, answers[-1])
        return httpx.Response(code, json={"error": "service_down"} if code == 503 else None)

    async def on_confirmed() -> None:
        triggered.append(True)

    rules = EvaluationConfig(fast_failures=fast_failures, confirm_after_s=0.01)
    confirmation = Confirmation.from_rules(rules, on_confirmed)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            (job,) = probe_jobs([spec], {"availability": 30.0}, client, sink, "local",
                                confirmation)
            await JobRunner().guarded(job)()

    asyncio.run(go())
    assert len(sink.results) == runs
    assert bool(triggered) is confirmed


@pytest.mark.parametrize(
    ("answers", "runs", "evaluations"),
    [
        (["shed", "shed", "shed"], 3, 3),  # failures_to_down = 3: two more refusals suffice
        (["shed", 200, "shed", 200, "shed"], 5, 3),  # refusing one in two: still found
        (["shed", 200], 6, 1),             # five tries all served: the window decides
        (["shed", 429], 3, 3),             # any failure counts towards the sample
        ([429], 1, 1),                     # a 4xx can be noise: no sample
    ],
)
def test_shedding_is_confirmed_at_once(answers: list[int | str], runs: int,
                                       evaluations: int) -> None:
    """A 503 ``overloaded`` with Retry-After is the service's own word, but it refuses a
    share of the requests: the probe samples again ``confirm_after_s`` apart until it has the
    ``failures_to_down`` failures the hysteresis needs or its tries are spent, evaluating after
    each failure, so the status moves in seconds; it never triggers the fast path."""
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=2)
    sink, calls, evaluated, confirmed = ListSink(), iter(answers), [], []

    def answer(request: httpx.Request) -> httpx.Response:
        code = next(calls, answers[-1])
        if code == "shed":
            return httpx.Response(503, headers={"Retry-After": "2"},
                                  json={"error": "overloaded"})
        return httpx.Response(int(code))

    async def on_failure() -> None:
        evaluated.append(True)

    async def on_confirmed() -> None:
        confirmed.append(True)

    rules = EvaluationConfig(fast_failures=2, confirm_after_s=0.01, failures_to_down=3)
    confirmation = Confirmation.from_rules(rules, on_confirmed)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            (job,) = probe_jobs([spec], {"availability": 30.0}, client, sink, "local",
                                confirmation, on_failure)
            await JobRunner().guarded(job)()

    asyncio.run(go())
    assert [r.error_class for r in sink.results][:1] == (
        ["overloaded"] if answers[0] == "shed" else ["http_4xx"])
    assert len(sink.results) == runs
    assert len(evaluated) == evaluations
    assert not confirmed
    moved = evaluate_component("c", "operational", sink.results, {"availability": None},
                               rules).status
    assert (moved != "operational") is (evaluations == rules.failures_to_down), moved


def served(total_ms: float, outcome: str = "ok") -> ProbeResult:
    return ProbeResult("availability", "http", datetime.now(UTC), outcome, total_ms,
                       error_class=None if outcome == "ok" else "slow")


def test_recent_latency_needs_a_history_and_a_real_difference() -> None:
    recent = RecentLatency()
    assert not any(recent.sudden(served(900.0 if i == 4 else 20.0)) for i in range(5))
    assert not recent.sudden(served(200.0))   # 10x the median, but only 180 ms more
    assert recent.sudden(served(400.0))       # 20x and 380 ms more
    assert recent.sudden(served(300.0, "degraded"))  # slow but served still counts
    failed = ProbeResult("availability", "http", datetime.now(UTC), "failed", 5000.0,
                         error_class="timeout")
    assert not recent.sudden(failed)          # failures are judged by the confirmation
    assert len(recent.served) == 8
    for _ in range(20):
        recent.sudden(served(400.0))
    assert len(recent.served) == recent.keep
    assert not recent.sudden(served(420.0))   # a new pace becomes the usual one


@pytest.mark.parametrize(
    ("after_slow", "runs", "moved"),
    [
        (["shed", "shed"], 3, True),     # the queue turned into refusals: found in seconds
        (["slow", "shed", 200, "shed"], 5, True),
        ([200], 2, False),               # back to its pace: the next interval tells
        (["slow", "slow", "slow"], 4, False),  # tries spent on a slow but serving service
    ],
)
def test_a_sudden_slowdown_is_looked_at_closer(after_slow: list[int | str], runs: int,
                                               moved: bool) -> None:
    """Requests still served wait in the queue a shedding service builds: a run far slower
    than usual makes the probe run again ``confirm_after_s`` apart, and a refusal among those
    runs is sampled as any other, so the status moves without waiting a probe interval."""
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=5)
    sink = ListSink()
    answers = iter(["slow", *after_slow])

    async def answer(request: httpx.Request) -> httpx.Response:
        code = next(answers, 200) if len(sink.results) >= 6 else 200
        if code == "shed":
            return httpx.Response(503, headers={"Retry-After": "2"},
                                  json={"error": "overloaded"})
        if code == "slow":
            await asyncio.sleep(0.5)
            code = 200
        return httpx.Response(int(code))

    rules = EvaluationConfig(fast_failures=2, confirm_after_s=0.01, failures_to_down=2)
    confirmation = Confirmation.from_rules(rules)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            (job,) = probe_jobs([spec], {"availability": 30.0}, client, sink, "local",
                                confirmation)
            for _ in range(7):  # six runs at the usual pace, then the slow one
                await JobRunner().guarded(job)()

    asyncio.run(go())
    assert len(sink.results) == 6 + runs
    assert sink.results[6].total_ms >= 500
    moved_to = evaluate_component("c", "operational", sink.results, {"availability": None},
                                  rules).status
    assert (moved_to != "operational") is moved, moved_to


def test_no_confirmation_without_a_fast_path() -> None:
    assert Confirmation.from_rules(EvaluationConfig(fast_failures=0)) is None
    assert Confirmation.from_rules(EvaluationConfig(confirm_after_s=0)) is None
    assert Confirmation.from_rules(EvaluationConfig()) == Confirmation(
        5.0, 1, shedding_runs=2, shedding_tries=5)


def test_worker_and_agent_tables(db: Database) -> None:
    config = parse_config(PROBE_CONFIG, "<test>")
    specs = [ProbeSpec(p.name, p.kind, "https://example.test", token="t") for p in config.probes]

    async def go() -> tuple[list[Job], list[Job]]:
        async with mock_client() as client:
            async def flush() -> int:
                return 0

            return (worker_jobs(config, db, specs, client, ListSink(), Intervals()),
                    agent_jobs(config, specs, client, ListSink(), "medan", flush))

    worker, agent = asyncio.run(go())

    async def with_watchdog() -> list[Job]:
        async with mock_client() as client:
            return worker_jobs(config, db, [], client, ListSink(), watchdog=lambda: False)

    assert [j.name for j in asyncio.run(with_watchdog())][-1] == "bundled-watchdog"
    assert [j.name for j in worker] == [
        "probe:purchase", "probe:stamp", "probe:availability", "evaluate", "flush-rollups",
        "prune", "maintenances", "deadline-notices"]
    assert {j.name: j.every_s for j in worker}["deadline-notices"] == 60.0
    assert {j.name: j.every_s for j in worker}["evaluate"] == 10.0
    assert {j.name: j.every_s for j in worker}["maintenances"] == 30.0
    assert [j.name for j in agent] == [
        "probe:purchase", "probe:stamp", "probe:availability", "flush-results"]


def test_housekeeping_jobs_run_against_the_database(db: Database) -> None:
    config = parse_config(PROBE_CONFIG, "<test>")

    async def go() -> None:
        async with mock_client() as client:
            jobs = {j.name: j for j in worker_jobs(config, db, [], client, ListSink())}
            for name in ("evaluate", "flush-rollups", "prune", "maintenances",
                         "deadline-notices"):
                assert await jobs[name].func() is not None

    asyncio.run(go())


def test_a_fast_probe_is_not_held_by_its_confirmation() -> None:
    """A probe every 0.25 s confirms itself on schedule: a 5 s confirmation wait would hold its
    job (max_instances=1) and slow detection down instead of speeding it up."""
    spec = ProbeSpec("availability", "http", "https://example.test/healthz", timeout_s=2)
    sink = ListSink()
    confirmation = Confirmation.from_rules(EvaluationConfig(fast_failures=2,
                                                            confirm_after_s=5.0))

    async def go() -> None:
        async with mock_client(503) as client:
            (job,) = probe_jobs([spec], {"availability": 0.25}, client, sink, "local",
                                confirmation)
            async with asyncio.timeout(1.0):
                await JobRunner().guarded(job)()

    asyncio.run(go())
    assert len(sink.results) == 1
