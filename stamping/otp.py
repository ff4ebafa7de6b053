"""Delivering one-time codes: a pluggable sender.

Every code is first written to the ``otp_outbox`` table in the registration transaction
(the durable queue a WhatsApp gateway worker would drain); the sender is then called to
deliver it.  The default sender only writes the code to the service log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

__all__ = ["LogOtpSender", "OtpSender"]

logger = logging.getLogger(__name__)


class OtpSender(Protocol):
    """Sends a code to a phone number; must not raise (log failures instead)."""

    async def send(self, phone: str, code: str, expires_at: dt.datetime) -> None:
        """Deliver ``code`` to ``phone``."""


class LogOtpSender:
    """The default sender: the service log (and the outbox table, written by the store)."""

    async def send(self, phone: str, code: str, expires_at: dt.datetime) -> None:
        """Log the code."""
        logger.info("OTP for %s: %s (valid until %s)", phone, code, expires_at.isoformat())
