"""Run one probe: dispatch on its kind, bound it by its timeout, and always return a result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from probes.errors import ProbeFailure
from probes.http import Transaction, run_http
from probes.memory import ProbeMemory
from probes.result import ProbeResult
from probes.spec import ProbeSpec
from probes.transactions import run_purchase, run_stamp, run_verify

__all__ = ["run_probe"]

log = logging.getLogger(__name__)

_KINDS: dict[str, Callable[[Transaction], Awaitable[None]]] = {
    "http": run_http,
    "purchase": run_purchase,
    "stamp": run_stamp,
    "verify": run_verify,
}


async def run_probe(
    spec: ProbeSpec, client: httpx.AsyncClient, *, location: str = "local",
    memory: ProbeMemory | None = None,
) -> ProbeResult:
    """Run ``spec`` once through ``client`` and describe what happened.

    Never raises, except :class:`asyncio.CancelledError` when the caller cancels it, and
    returns within ``spec.timeout_s`` plus scheduling slack: every request gets the remaining
    budget as its timeout and the whole transaction is cancelled when the budget is spent.
    A correct answer slower than ``spec.latency_budget_ms`` is ``degraded``; a wrong answer,
    however fast, is ``failed``. ``memory`` carries CA certificates and stamped documents
    from run to run (a scheduler passes the same one to every run; see ``probes.memory``).
    """
    started_at = datetime.now(UTC)
    tx = Transaction(spec, client, memory)
    error_class: str | None = None
    message: str | None = None
    try:
        async with asyncio.timeout(spec.timeout_s):
            await _KINDS[spec.kind](tx)
    except ProbeFailure as failure:
        error_class, message = failure.error_class, failure.message
    except TimeoutError:
        step = tx.failed_step or tx.step_name
        error_class = "timeout"
        message = f"no answer within {spec.timeout_s:g} s (during {step})"
    except Exception as exc:
        # A bug in a probe must not take the scheduler down; it shows as a failed run.
        log.exception("probe %s crashed", spec.name)
        error_class, message = "probe_error", f"{type(exc).__name__}: {exc}"
    total_ms = tx.elapsed_ms()
    phases = {**tx.phases, "total": total_ms}
    outcome = "ok" if error_class is None else "failed"
    if outcome == "ok" and spec.latency_budget_ms is not None and total_ms > spec.latency_budget_ms:
        outcome, error_class = "degraded", "slow"
        message = f"took {total_ms:.0f} ms, over the budget of {spec.latency_budget_ms:g} ms"
    if outcome != "ok":
        log.info("probe %s %s: %s %s", spec.name, outcome, error_class, message)
    return ProbeResult(
        probe=spec.name,
        kind=spec.kind,
        started_at=started_at,
        outcome=outcome,
        total_ms=total_ms,
        phases=phases,
        error_class=error_class,
        message=message,
        location=location,
    )
