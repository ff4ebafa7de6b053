"""The home page in real headless Chromium, as a visitor on a phone sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_home_on_a_phone(live_server: LiveServer, new_page: Callable[..., Any]) -> None:
    page = new_page(width=360, height=740)
    response = page.goto(live_server.url + "/")
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.locator("h1").inner_text().endswith("Semua sistem beroperasi normal")
    assert page.get_by_text("Data contoh").first.is_visible()
    assert page.get_by_text("Pembelian kuota").first.is_visible()
    badge = page.locator(".comp .st").first  # status in words beside its icon
    assert badge.is_visible() and badge.inner_text().endswith("Beroperasi normal")
    width, viewport = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"page scrolls sideways at 360 px ({width} > {viewport})"
    # the day-by-day figures open with a tap, no hovering needed
    details = page.locator("details.days").first
    details.locator("summary").click()
    assert details.locator("li").first.is_visible()
    assert "%" in details.locator("li").first.inner_text()


def test_home_in_english_on_a_desktop(live_server: LiveServer,
                                      new_page: Callable[..., Any]) -> None:
    page = new_page(width=1280, height=900, lang="en-US")
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text().endswith("All Systems Operational")
    page.get_by_role("link", name="Bahasa Indonesia").click()
    assert page.locator("h1").inner_text().endswith("Semua sistem beroperasi normal")
    page.get_by_role("link", name="Riwayat").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Riwayat insiden"
    assert page.get_by_text("Pembelian e-meterai gagal").first.is_visible()


def test_works_without_javascript(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360,
                                                                      "height": 740})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/history")
        page.get_by_text("Pembelian e-meterai gagal").first.click()
        assert page.get_by_role("heading", level=1).inner_text().startswith(
            "Pembelian e-meterai gagal")
        assert page.get_by_text("Penyebab ditemukan").first.is_visible()
        width, viewport = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport
    finally:
        context.close()
