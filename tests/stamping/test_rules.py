"""Pure rules: phone numbers, serials, prices, boxes, gateway signatures, faults, gates."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from stamping import gateway
from stamping.admission import Gate, Overloaded
from stamping.faults import FaultSpec, parse_fault_spec
from stamping.rules import (
    SERIAL_ALPHABET,
    clean_text,
    hash_token,
    is_ascii_digits,
    new_serial,
    new_token,
    normalise_phone,
    order_amount,
)
from stamping.signer import DocumentError, parse_box


@pytest.mark.parametrize(("raw", "e164"), [
    ("081234567890", "+6281234567890"),
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("81234567890", "+6281234567890"),
    ("(0857) 1234.567", "+628571234567"),
])
def test_phone_numbers_are_normalised(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "0211234567", "+4915112345678", "08123", "08a2345678",
                                 "0812345678901234",
                                 # digits that str.isdigit() accepts but are not 0-9
                                 "08\u00b9\u00b2\u00b3456789", "\u0660\u0668123456789",
                                 "\uff10\uff18123456789", "08\U0001d7d9234567890"])
def test_bad_phone_numbers(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_serials_and_tokens() -> None:
    serials = {new_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(len(s) == 22 and set(s) <= set(SERIAL_ALPHABET) for s in serials)
    token = new_token()
    assert token.startswith("stm_") and len(hash_token(token)) == 64


def test_order_amount() -> None:
    assert order_amount(3, 10_000, 2_500) == 37_500


@pytest.mark.parametrize(("text", "box"), [("10,20,110,120", (10, 20, 110, 120)),
                                           (" 0.5, 1 ,100.5,101 ", (0.5, 1, 100.5, 101))])
def test_parse_box(text: str, box: tuple[float, ...]) -> None:
    assert parse_box(text) == box


@pytest.mark.parametrize("text", ["", "1,2,3", "a,b,c,d", "10,10,5,50", "0,0,10,10"])
def test_parse_box_errors(text: str) -> None:
    with pytest.raises(DocumentError):
        parse_box(text)


def test_gateway_signature_and_qris() -> None:
    now = dt.datetime.now(dt.UTC)
    body, sig = gateway.build_notification(b"k", "order", 12_500, now)
    note = gateway.parse_notification(b"k", body, sig, now, dt.timedelta(minutes=5))
    assert (note.order_id, note.amount) == ("order", 12_500)
    with pytest.raises(gateway.NotificationError, match="bad_signature"):
        gateway.parse_notification(b"other", body, sig, now, dt.timedelta(minutes=5))
    with pytest.raises(gateway.NotificationError, match="stale"):
        gateway.parse_notification(b"k", body, sig, now + dt.timedelta(hours=1),
                                   dt.timedelta(minutes=5))
    qris = gateway.qris_payload("QRABC", 12_500)
    assert qris.startswith("000201") and "540512500" in qris and len(qris.split("6304")[-1]) == 4


def test_fault_spec_parsing() -> None:
    assert parse_fault_spec({}) == FaultSpec()
    spec = parse_fault_spec({"latency_ms": 200, "endpoints": ["/api/v1/stamps"]})
    assert spec.applies_to("/api/v1/stamps") and not spec.applies_to("/healthz")
    assert not FaultSpec(down=True).applies_to("/api/v1/admin/faults")
    assert not FaultSpec(down=True).applies_to("/metrics")
    for bad in [[], {"latency_ms": True}, {"capacity": -1}, {"error_rate": 1.5}]:
        with pytest.raises(ValueError):
            parse_fault_spec(bad)


def test_gate_admits_queues_and_refuses() -> None:
    async def scenario() -> None:
        gate = Gate("t", slots=1, queue=1, initial_service_s=0.5)
        release = asyncio.Event()

        async def job() -> None:
            async with gate.admit(), gate.slot():
                await release.wait()

        first = asyncio.create_task(job())
        second = asyncio.create_task(job())
        await asyncio.sleep(0.01)
        assert (gate.in_service, gate.waiting) == (1, 1)
        with pytest.raises(Overloaded) as info:
            async with gate.admit():
                pass
        assert info.value.retry_after >= 1 and info.value.estimated_wait == pytest.approx(1.0)
        with pytest.raises(Overloaded):
            async with gate.admit(cap=0):
                pass
        release.set()
        await asyncio.gather(first, second)
        assert gate.in_system == 0

    asyncio.run(scenario())


@pytest.mark.parametrize(("text", "ok"), [("123", True), ("0", True), ("", False),
                                          ("\u00b2", False), ("\u0663", False), ("1a", False)])
def test_ascii_digits_only(text: str, ok: bool) -> None:
    assert is_ascii_digits(text) is ok


@pytest.mark.parametrize("text", ["a\x00b", "tab\tname", "v\x0btab", "\ud800", "bidi\u202e",
                                  "x" * 201, "   "])
def test_clean_text_refuses_control_characters_and_bad_unicode(text: str) -> None:
    with pytest.raises(ValueError):
        clean_text(text, "name", 200)


def test_clean_text_keeps_real_names() -> None:
    assert clean_text("  Siti Aminah ", "name", 200) == "Siti Aminah"
    assert clean_text("\u0936\u094d\u200d\u0930", "name", 200)  # a ZWJ in Devanagari
