"""SSRF rules: which addresses a webhook may reach, URL checks, and the checked connection."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from statuspage.webhooks.http import HttpPool
from statuspage.webhooks.sender import post
from statuspage.webhooks.ssrf import (
    UrlRefused,
    address_allowed,
    check_url,
    resolve_checked,
)
from tests.webhook_receiver import Receivers


@pytest.mark.parametrize("address,allowed", [
    ("127.0.0.1", False), ("127.8.9.10", False), ("::1", False), ("0.0.0.0", False),  # noqa: S104
    ("::", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("100.64.0.1", False),
    ("100.127.255.254", False), ("224.0.0.1", False), ("ff02::1", False),
    ("fd00:ec2::254", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("64:ff9b::7f00:1", False), ("2002:7f00:1::", False), ("192.0.2.1", False),
    ("198.18.0.1", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("::ffff:8.8.8.8", True), ("100.128.0.1", True),
])
def test_address_classes(address: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(address)) is allowed


@pytest.mark.parametrize("url", [
    "http://example.com/", "https://127.0.0.1/", "https://[::1]/", "https://[::ffff:127.0.0.1]/",
    "https://2130706433/", "https://0177.0.0.1/", "https://0x7f.0.0.1/", "https://0x7f000001/",
    "https://017700000001/", "https://10.0.0.1:8443/x", "https://169.254.169.254/",
    "https://u:p@example.com/", "https://example.com/#frag", "https://exa mple.com/",
    "https://example.com/\x00", "ftp://example.com/", "javascript:alert(1)", "", "https://",
    "https://example.com/" + "a" * 2100,
])
def test_refused_urls(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, allow_private=False)


def test_accepted_url_and_endpoint_key() -> None:
    target = check_url("https://Hooks.Example.com:8443/a?b=1", allow_private=False)
    assert target.endpoint == "https://hooks.example.com:8443"
    assert check_url("http://[::1]:9/x", allow_private=True).endpoint == "http://[::1]:9"


def test_the_setting_allows_http_and_private() -> None:
    assert check_url("http://127.0.0.1:8080/", allow_private=True).port == 8080


def test_names_resolving_inside_are_refused_and_resolution_failure_fails_closed() -> None:
    with pytest.raises(UrlRefused, match="127.0.0.1|::1"):
        asyncio.run(resolve_checked("localhost", 443, allow_private=False))
    with pytest.raises(UrlRefused, match="resolve"):
        asyncio.run(resolve_checked("no-such-host.invalid", 443, allow_private=False))


def test_connection_goes_to_the_checked_address_with_the_name_kept() -> None:
    receivers = Receivers().start()
    try:
        url = f"http://localhost:{receivers.ports[0]}/ok"

        async def go() -> str:
            pool = HttpPool()
            answer = await post(pool, url, b"{}", {}, timeout_s=5, allow_private=True)
            await pool.close()
            return answer.outcome

        assert asyncio.run(go()) == "success"
        [request] = receivers.requests
        assert request.headers["host"] == f"localhost:{receivers.ports[0]}"
    finally:
        receivers.stop()


def test_sender_refuses_before_connecting() -> None:
    pool = HttpPool()

    async def go() -> str:
        answer = await post(pool, "https://localhost/hook", b"{}", {}, timeout_s=2,
                            allow_private=False)
        return answer.outcome

    assert asyncio.run(go()) == "refused"
    assert pool.opened == 0
