"""Admission control in isolation: fair shares, queue sizing, held refusals, credentials."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from starlette.types import Message, Receive, Scope, Send

from stamping.admission import (
    AdmissionMiddleware,
    FairShare,
    Gate,
    Overloaded,
    Shedder,
    request_credential,
)


@pytest.mark.parametrize(("held", "key", "limit", "allowed"), [
    ({}, "a", 10, True),                    # alone: may take everything
    ({"a": 9}, "a", 10, True),
    ({"a": 10}, "a", 10, False),
    ({"a": 9}, "b", 10, True),              # a newcomer always gets in while there is room
    ({"a": 5, "b": 1}, "a", 10, False),     # two holders: 5 each at most
    ({"a": 4, "b": 1}, "a", 10, True),
    ({"a": 3, "b": 3, "c": 3}, "c", 10, True),   # ceil(10 / 3) = 4
    ({"a": 3, "b": 3, "c": 4}, "c", 10, False),
    ({"a": 1, "b": 1}, "c", 2, True),       # at least one place each
])
def test_fair_share(held: dict[str, int], key: str, limit: int, allowed: bool) -> None:
    share = FairShare()
    share.held.update(held)
    assert share.allows(key, limit) is allowed


def test_fair_share_gives_places_back() -> None:
    share = FairShare()
    share.take("a")
    share.take("a")
    share.give_back("a")
    assert share.held == {"a": 1}
    share.give_back("a")
    assert share.held == {}


@pytest.mark.parametrize(("service_s", "queue_limit"), [
    (0.04, 50),    # 4 slots / 40 ms = 100/s; 0.5 s of it
    (0.01, 64),    # capped by the configured queue
    (2.0, 12),     # never fewer places than three rounds of slots
])
def test_queue_is_sized_from_the_service_time(service_s: float, queue_limit: int) -> None:
    gate = Gate("stamp", slots=4, queue=64, initial_service_s=service_s, queue_seconds=0.5)
    assert gate.queue_limit() == queue_limit
    assert gate.limit() == 4 + queue_limit
    assert gate.limit(cap=3) == 3
    assert Gate("fixed", slots=4, queue=64, initial_service_s=2.0).queue_limit() == 64


def test_one_account_cannot_take_every_place() -> None:
    gate = Gate("stamp", slots=1, queue=3)  # 4 places
    for _ in range(3):
        assert gate.refusal(account="storm", address="10.0.0.1") is None
        gate.enter("storm", "10.0.0.1")
    # Another account from the same address (a shared proxy or NAT) still gets in...
    assert gate.refusal(account="probe", address="10.0.0.1") is None
    gate.enter("probe", "10.0.0.1")
    gate.leave("storm", "10.0.0.1")
    # ...and the storming account is held to its half of the places while both wait.
    refused = gate.refusal(account="storm", address="10.0.0.9")
    assert refused is not None and refused.reason == "account_share"
    assert gate.refusal(account="someone", address="10.0.0.9") is None
    # One address cannot take every place with many accounts either.
    gate.leave("probe", "10.0.0.1")
    gate.leave("storm", "10.0.0.1")
    gate.leave("storm", "10.0.0.1")
    assert gate.in_system == 0 and not gate.accounts.held and not gate.addresses.held
    for i in range(3):
        gate.enter(f"acct{i}", "10.0.0.1")
    gate.enter("other", "10.0.0.2")
    gate.leave("acct0", "10.0.0.1")
    refused = gate.refusal(account="acct9", address="10.0.0.1")
    assert refused is not None and refused.reason == "address_share"


def test_shares_apply_only_when_the_gate_is_nearly_full() -> None:
    gate = Gate("stamp", slots=1, queue=9)  # 10 places
    for key in ["a"] * 5 + ["b"]:
        gate.enter(key)
    assert gate.refusal(account="a") is None  # 4 of 10 free: nobody is kept out
    gate.enter("b")
    gate.enter("b")
    refused = gate.refusal(account="a")  # 2 free: a holds its 5 of 10 already
    assert refused is not None and refused.reason == "account_share"
    assert gate.refusal(account="b") is None


def test_retry_after_is_spread() -> None:
    seen = {Overloaded("stamp", 1.6, 10).retry_after for _ in range(200)}
    assert seen <= {2, 3, 4} and len(seen) > 1
    assert {Overloaded("stamp", 0.01, 1).retry_after for _ in range(50)} <= {1, 2}


@pytest.mark.parametrize(("headers", "expected"), [
    ([(b"authorization", b"Bearer abc123")], "abc123"),
    ([(b"authorization", b"bearer  abc123 ")], "abc123"),
    ([(b"authorization", b"Basic xyz")], None),
    ([(b"cookie", b"a=1; meterai_sesi=tok; b=2")], "tok"),
    ([(b"cookie", b"meterai_sesi=")], None),
    ([(b"cookie", b"x_meterai_sesi=tok")], None),
    ([], None),
])
def test_request_credential(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    assert request_credential({"headers": headers}, "meterai_sesi") == expected


def _scope(address: str = "127.0.0.1") -> Scope:
    return {"type": "http", "method": "POST", "path": "/api/v1/stamps",
            "headers": [(b"authorization", b"Bearer t")], "client": (address, 5000)}


async def _call(app: AdmissionMiddleware, scope: Scope) -> tuple[int, dict[str, object], float]:
    started = time.perf_counter()
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    body = json.loads(messages[1]["body"]) if messages[1]["body"] else {}
    return messages[0]["status"], body, time.perf_counter() - started


def test_a_full_gate_refuses_before_working_out_the_share_key() -> None:
    """At the peak two requests of three are refused: the refusal costs no token hash."""
    async def scenario() -> None:
        gate = Gate("stamp", slots=1, queue=0)
        keyed: list[str] = []

        def account_key(credential: str) -> str:
            keyed.append(credential)
            return f"account:{credential}"

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            assert gate.accounts.held == {"account:t": 1}
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        async def no_cap() -> int | None:
            return None

        app = AdmissionMiddleware(inner, Shedder({"/api/v1/stamps": gate}), no_cap,
                                  account_key=account_key)
        assert (await _call(app, _scope()))[0] == 201  # room: the share is keyed
        assert keyed == ["t"]
        gate.enter()  # the only place is taken
        status, body, _ = await _call(app, _scope())
        assert (status, body["reason"]) == (503, "full")
        assert keyed == ["t"]
        gate.leave()
        assert gate.in_system == 0 and not gate.accounts.held

    asyncio.run(scenario())


def test_middleware_admits_holds_refusals_and_gives_places_back() -> None:
    async def scenario() -> None:
        gate = Gate("stamp", slots=1, queue=0)
        release = asyncio.Event()
        refused: list[tuple[str, str, float, bool]] = []

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            async with gate.admit():  # the handler's admit does not take a second place
                assert gate.in_system == 1
                await release.wait()
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        async def no_cap() -> int | None:
            return None

        shedder = Shedder({"/api/v1/stamps": gate}, hold_seconds=0.2, max_held=1,
                          on_refused=lambda *a: refused.append(a))
        app = AdmissionMiddleware(inner, shedder, no_cap)
        first = asyncio.create_task(_call(app, _scope()))
        await asyncio.sleep(0.01)
        held, at_once = await asyncio.gather(_call(app, _scope()), _call(app, _scope()))
        # One refusal is held 0.1-0.2 s; past max_held the other leaves at once.
        assert sorted([held[0], at_once[0]]) == [503, 503]
        assert max(held[2], at_once[2]) >= 0.1
        assert held[1]["reason"] == "full" and held[1]["queue"] == "stamp"
        # counted as the middleware's refusals, not the protocol's
        assert [(r[0], r[1], r[3]) for r in refused] == [("/api/v1/stamps", "stamp", False)] * 2
        release.set()
        assert (await first)[0] == 201
        assert gate.in_system == 0 and not gate.accounts.held and not gate.addresses.held
        assert shedder.held == 0

    asyncio.run(scenario())
