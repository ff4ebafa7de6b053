"""The worker role: scheduler, bundled stamping service, probes (being built)."""

from __future__ import annotations

import logging
import signal
import threading

from statuspage.settings import Settings

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


def run_worker(settings: Settings, *, stamping_port: int | None = None) -> None:
    """Run until SIGTERM/SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("worker started")
    stop.wait()
