"""purchase, stamp and verify against a fake stamping API serving genuinely signed PDFs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from probes import ProbeMemory, ProbeResult, ProbeSpec, run_probe
from tests.probes.fakes import BASE, TOKEN, FakeStamping
from tests.probes.pki import ThrowawayPki

pytestmark = pytest.mark.anyio

#: The timeout of a run that hangs in a late step: long enough for the steps before it on a
#: machine busy with other tests, so the run times out where the hang is.
HANG_BUDGET_S = 2.0


def spec(kind: str, **kw: Any) -> ProbeSpec:
    options = {"poll_interval_s": 0.001, **kw.pop("options", {})}
    return ProbeSpec(name=f"{kind}-test", kind=kind, target=BASE + "/", token=TOKEN,
                     timeout_s=kw.pop("timeout_s", 5.0), options=options, **kw)


async def run(service: FakeStamping, probe: ProbeSpec,
              memory: ProbeMemory | None = None) -> ProbeResult:
    """One run; runs given the same ``memory`` share CA and stamped document, as a
    scheduler's do."""
    async with service.client() as client:
        return await run_probe(probe, client, memory=memory)


# --- purchase ---------------------------------------------------------------------------

async def test_purchase_paid_at_once(service: FakeStamping) -> None:
    result = await run(service, spec("purchase"))
    assert result.outcome == "ok", result.message
    assert {"connect", "ttfb", "quota", "order", "pay", "credit", "total"} <= set(result.phases)
    assert service.available == 6
    order_request = next(r for r in service.requests if r.method == "POST")
    assert len(order_request.headers["Idempotency-Key"]) >= 16


async def test_purchase_polls_payment_and_credit(service: FakeStamping) -> None:
    service.order_status, service.pending_polls, service.credit_delay_reads = "pending", 2, 2
    result = await run(service, spec("purchase", options={"quantity": 3}))
    assert result.outcome == "ok", result.message
    assert service.paths().count("GET /api/v1/orders/ord-1") == 3
    assert service.paths().count("GET /api/v1/quota") == 4  # before + 2 stale + credited
    assert service.available == 8


async def test_purchase_fresh_idempotency_key_per_run(service: FakeStamping) -> None:
    await run(service, spec("purchase"))
    await run(service, spec("purchase"))
    keys = {r.headers["Idempotency-Key"] for r in service.requests if r.method == "POST"}
    assert len(keys) == 2


async def test_purchase_never_credited_times_out_in_credit(service: FakeStamping) -> None:
    service.credit_delay_reads = 10**9
    # the budget covers the steps before the hang on a busy machine (the suite runs a worker
    # per CPU); a budget near their cost would time out in an earlier step
    result = await run(service, spec("purchase", timeout_s=HANG_BUDGET_S))
    assert (result.outcome, result.error_class) == ("failed", "timeout")
    assert "credit" in (result.message or "")


async def test_purchase_expired_order_fails(service: FakeStamping) -> None:
    service.order_status = "expired"
    result = await run(service, spec("purchase"))
    assert (result.outcome, result.error_class) == ("failed", "payment_failed")


async def test_purchase_overloaded(service: FakeStamping) -> None:
    service.fail["/api/v1/orders"] = 503
    result = await run(service, spec("purchase"))
    assert (result.outcome, result.error_class) == ("failed", "overloaded")
    assert "Retry-After: 3" in (result.message or "")


async def test_purchase_slow_is_degraded(service: FakeStamping) -> None:
    service.delay["/api/v1/orders"] = 0.05
    result = await run(service, spec("purchase", latency_budget_ms=20))
    assert (result.outcome, result.error_class) == ("degraded", "slow")
    assert result.phases["order"] >= 50


async def test_purchase_with_bad_token_is_4xx(service: FakeStamping) -> None:
    probe = ProbeSpec(name="p", kind="purchase", target=BASE, token="wrong")
    result = await run(service, probe)
    assert (result.outcome, result.error_class) == ("failed", "http_4xx")


# --- stamp ------------------------------------------------------------------------------

async def test_stamp_ok_checks_signature_and_serial(service: FakeStamping) -> None:
    result = await run(service, spec("stamp"))
    assert result.outcome == "ok", result.message
    assert {"stamp", "validate", "verify_serial", "ttfb", "total"} <= set(result.phases)
    assert service.paths() == [
        "POST /api/v1/stamps", "GET /ca.pem", "GET /verify/PROBETEST0123456789ABC"
    ]
    upload = service.requests[0]
    assert b"%PDF-1.7" in upload.content and b'name="file"' in upload.content


async def test_stamp_caches_the_ca_per_target(service: FakeStamping) -> None:
    memory = ProbeMemory()
    await run(service, spec("stamp"), memory)
    await run(service, spec("stamp"), memory)
    assert service.paths().count("GET /ca.pem") == 1
    await run(service, spec("stamp"))  # another scheduler remembers nothing of it
    assert service.paths().count("GET /ca.pem") == 2


async def test_stamp_refetches_a_rotated_ca(
    service: FakeStamping, other_pki: ThrowawayPki, foreign_pdf: bytes
) -> None:
    memory = ProbeMemory()
    assert (await run(service, spec("stamp"), memory)).outcome == "ok"
    service.ca_pem = other_pki.ca_pem
    service.signed_pdf = foreign_pdf
    result = await run(service, spec("stamp"), memory)
    assert result.outcome == "ok", result.message
    assert service.paths().count("GET /ca.pem") == 2


async def test_stamp_tampered_document_fails_fast(
    service: FakeStamping, tampered_pdf: bytes
) -> None:
    service.signed_pdf = tampered_pdf
    result = await run(service, spec("stamp", latency_budget_ms=10_000))
    assert (result.outcome, result.error_class) == ("failed", "invalid_signature")
    assert "does not match" in (result.message or "")


async def test_stamp_signed_by_a_foreign_ca_fails(
    service: FakeStamping, foreign_pdf: bytes
) -> None:
    service.signed_pdf = foreign_pdf
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "invalid_signature")
    assert "chain" in (result.message or "")


async def test_stamp_unsigned_answer_fails(service: FakeStamping) -> None:
    from probes import reference_pdf

    service.signed_pdf = reference_pdf()
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "invalid_signature")


@pytest.mark.parametrize(
    ("knob", "value", "error_class"),
    [
        ("serial", "SOMEOTHERSERIAL0000000", None),  # header serial unknown to /verify
        ("verify_hash", "0" * 64, "wrong_serial"),
        ("verify_serial", "DIFFERENTSERIAL0000000", "wrong_serial"),
    ],
)
async def test_stamp_serial_cross_checks(
    service: FakeStamping, knob: str, value: str, error_class: str | None
) -> None:
    setattr(service, knob, value)
    if knob == "serial":
        # The fake knows only its own serial, so point /verify at a different one.
        service.serial = value
        original_verify = service._verify_serial

        def verify(request: Any, serial: str) -> Any:
            return original_verify(request, "not-" + serial)

        service._verify_serial = verify  # type: ignore[method-assign]
        error_class = "wrong_serial"
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", error_class)


async def test_stamp_without_serial_header_is_bad_response(service: FakeStamping) -> None:
    service.serial = ""
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "bad_response")


async def test_stamp_answer_not_a_pdf(service: FakeStamping) -> None:
    service.signed_pdf = b"<html>oops</html>"
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "bad_response")


async def test_stamp_overloaded_with_retry_after(service: FakeStamping) -> None:
    service.fail["/api/v1/stamps"] = 503
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "overloaded")
    assert "Retry-After: 3" in (result.message or "")


async def test_stamp_buys_one_when_quota_is_exhausted(service: FakeStamping) -> None:
    service.available = 0
    result = await run(service, spec("stamp"))
    assert result.outcome == "ok", result.message
    assert {"order", "pay", "credit"} <= set(result.phases)
    assert service.paths().count("POST /api/v1/stamps") == 2
    assert (service.available, service.spent) == (0, 1)


async def test_stamp_without_auto_purchase_reports_exhausted_quota(
    service: FakeStamping,
) -> None:
    service.available = 0
    result = await run(service, spec("stamp", options={"auto_purchase": False}))
    assert (result.outcome, result.error_class) == ("failed", "http_4xx")
    assert "quota_exhausted" in (result.message or "")


async def test_stamp_ca_endpoint_garbage_is_bad_response(service: FakeStamping) -> None:
    service.ca_pem = b"<html>not a certificate</html>"
    result = await run(service, spec("stamp"))
    assert (result.outcome, result.error_class) == ("failed", "bad_response")


async def test_stamp_hang_in_verify_serial_times_out_there(service: FakeStamping) -> None:
    service.hang.add("/verify/PROBETEST0123456789ABC")
    # stamping and validating with pyHanko come first: the budget must cover them under load
    result = await run(service, spec("stamp", timeout_s=HANG_BUDGET_S))
    assert (result.outcome, result.error_class) == ("failed", "timeout")
    assert "verify_serial" in (result.message or "")
    assert {"stamp", "validate"} <= set(result.phases)


# --- verify -----------------------------------------------------------------------------

async def test_verify_given_document(service: FakeStamping, signed_pdf: bytes) -> None:
    result = await run(service, spec("verify", options={"document": signed_pdf}))
    assert result.outcome == "ok", result.message
    assert service.paths() == ["POST /api/v1/verify"]
    assert "verify" in result.phases


async def test_verify_stamps_once_then_reuses(service: FakeStamping) -> None:
    memory = ProbeMemory()
    assert (await run(service, spec("verify"), memory)).outcome == "ok"
    assert (await run(service, spec("verify"), memory)).outcome == "ok"
    assert service.paths().count("POST /api/v1/stamps") == 1
    assert service.paths().count("POST /api/v1/verify") == 2


async def test_verify_invalid_answer_fails(service: FakeStamping, signed_pdf: bytes) -> None:
    service.verify_valid = False
    result = await run(service, spec("verify", options={"document": signed_pdf}))
    assert (result.outcome, result.error_class) == ("failed", "invalid_signature")
    assert "altered" in (result.message or "")


async def test_verify_wrong_serial(service: FakeStamping, signed_pdf: bytes) -> None:
    service.verify_serial = "DIFFERENTSERIAL0000000"
    options = {"document": signed_pdf, "serial": "PROBETEST0123456789ABC"}
    result = await run(service, spec("verify", options=options))
    assert (result.outcome, result.error_class) == ("failed", "wrong_serial")


async def test_verify_restamps_when_the_cached_document_is_rejected(
    service: FakeStamping,
) -> None:
    memory = ProbeMemory()
    assert (await run(service, spec("verify"), memory)).outcome == "ok"
    original = service._verify_upload
    calls = {"n": 0}

    def reject_first(request: Any) -> Any:
        calls["n"] += 1
        service.verify_valid = calls["n"] > 1
        return original(request)

    service._verify_upload = reject_first  # type: ignore[method-assign]
    result = await run(service, spec("verify"), memory)
    assert result.outcome == "ok", result.message
    assert service.paths().count("POST /api/v1/stamps") == 2


async def test_verify_overloaded(service: FakeStamping, signed_pdf: bytes) -> None:
    service.fail["/api/v1/verify"] = 503
    result = await run(service, spec("verify", options={"document": signed_pdf}))
    assert (result.outcome, result.error_class) == ("failed", "overloaded")


async def test_verify_bad_option_is_bad_config(service: FakeStamping) -> None:
    result = await run(service, spec("verify", options={"document": "not bytes"}))
    assert (result.outcome, result.error_class) == ("failed", "bad_config")


async def test_verify_document_path(
    service: FakeStamping, signed_pdf: bytes, tmp_path: Path
) -> None:
    document = tmp_path / "stamped.pdf"
    document.write_bytes(signed_pdf)
    result = await run(service, spec("verify", options={"document_path": str(document)}))
    assert result.outcome == "ok", result.message
    missing = await run(service, spec("verify", options={"document_path": str(tmp_path / "x")}))
    assert (missing.outcome, missing.error_class) == ("failed", "bad_config")


async def test_signature_validation_runs_off_the_event_loop(
    service: FakeStamping, monkeypatch: pytest.MonkeyPatch
) -> None:
    import probes.transactions as transactions

    threads: list[str] = []
    real = transactions.check_signed_pdf

    def spy(pdf: bytes, ca: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(pdf, ca)

    monkeypatch.setattr(transactions, "check_signed_pdf", spy)
    assert (await run(service, spec("stamp"))).outcome == "ok"
    assert threads and threading.main_thread().name not in threads
