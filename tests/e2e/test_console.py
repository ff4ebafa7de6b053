"""The operator console in real headless Chromium, on a phone, with JavaScript switched off:
log in, post an incident through the form, see it on the public page."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL, PASSWORD = "admin@example.id", "kata-sandi-e2e-123"
#: Where the 360 px screenshots go (set E2E_SCREENSHOTS to keep them somewhere you can see).
SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "/tmp/statuspage-e2e"))


@pytest.fixture
def console_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A fresh server with one admin account made through the CLI."""
    server = server_factory(demo=False)
    done = server.run_cli("operator", "add", EMAIL, "--role", "admin", "--password", PASSWORD)
    assert "added" in done.stdout
    return server


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A 360 px wide page with JavaScript disabled: the console must not need it."""
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="id-ID",
                                  java_script_enabled=False)
    yield context.new_page()
    context.close()


def no_sideways_scroll(page: Any) -> None:
    """Fail when the page is wider than the 360 px screen (checked without page JavaScript)."""
    width = page.locator("body").bounding_box()["width"]
    assert width <= 360, f"console wider than the screen at 360 px ({width})"


def test_post_incident_from_a_phone(console_server: LiveServer, phone: Any) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    url = console_server.url
    phone.goto(url + "/admin")
    assert "/admin/login" in phone.url  # redirected: no session yet
    phone.get_by_label("Email").fill(EMAIL)
    phone.get_by_label("Kata sandi").fill(PASSWORD)
    phone.get_by_role("button", name="Masuk").click()
    expect(phone.get_by_role("heading", name="Dasbor")).to_be_visible()
    no_sideways_scroll(phone)
    phone.screenshot(path=str(SHOTS / "console-dashboard-360.png"), full_page=True)

    phone.get_by_role("link", name="+ Insiden baru").click()
    phone.get_by_label("Judul").fill("Pembelian e-meterai lambat (uji e2e)")
    phone.get_by_label("Status").select_option("identified")
    phone.get_by_label("Dampak").select_option("major")
    phone.get_by_label("Pembelian kuota").select_option("partial_outage")
    phone.get_by_label("Pesan (Markdown)").fill(
        "Pembayaran QRIS **tertunda**. Kuota yang sudah dibayar tetap aman.")
    phone.get_by_role("button", name="Pratinjau").click()
    preview = phone.locator(".preview")  # the whole incident, in the public page's style
    expect(preview.locator("strong", has_text="tertunda")).to_be_visible()
    expect(preview.get_by_text("Gangguan sebagian").first).to_be_visible()
    # the preview kept everything typed
    assert phone.get_by_label("Judul").input_value() == "Pembelian e-meterai lambat (uji e2e)"
    assert phone.get_by_label("Pembelian kuota").input_value() == "partial_outage"
    no_sideways_scroll(phone)
    phone.screenshot(path=str(SHOTS / "console-new-incident-360.png"), full_page=True)

    phone.get_by_role("button", name="Terbitkan insiden").click()
    expect(phone.get_by_text("Insiden diterbitkan.")).to_be_visible()
    assert "/admin/incidents/" in phone.url
    no_sideways_scroll(phone)
    phone.screenshot(path=str(SHOTS / "console-incident-360.png"), full_page=True)

    public = phone.context.new_page()
    deadline = time.monotonic() + 10
    while True:  # the public page is cached bytes refreshed within about a second
        public.goto(url + "/")
        if public.get_by_text("Pembelian e-meterai lambat (uji e2e)").count() or \
                time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(public.get_by_text("Pembelian e-meterai lambat (uji e2e)").first).to_be_visible()


def test_login_with_the_keyboard_only(console_server: LiveServer, phone: Any) -> None:
    from playwright.sync_api import expect

    phone.goto(console_server.url + "/admin/login")
    first = phone.locator("a, button, input:not([type=hidden]), select, textarea").first
    assert first.inner_text() == "Lewati ke isi"  # the skip link comes first
    seen = []
    for _ in range(8):  # Tab through the page: every field and the button are reachable
        phone.keyboard.press("Tab")
        seen.append(phone.evaluate(
            "document.activeElement.name || document.activeElement.textContent.trim()"))
    assert {"email", "password", "Masuk"} <= set(seen), seen
    phone.get_by_label("Email").focus()
    phone.keyboard.type(EMAIL)
    phone.keyboard.press("Tab")
    phone.keyboard.type(PASSWORD)
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", name="Dasbor")).to_be_visible()
