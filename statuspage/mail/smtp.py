"""Sending over SMTP (stdlib ``smtplib``, in threads), or into ``.eml`` files for the demo.

``STATUSPAGE_SMTP_URL``: ``smtp://user:password@host:587`` (STARTTLS, required when there is
a password: it never crosses the network in clear), ``smtps://user:password@host:465``
(implicit TLS), or ``smtp://host:port`` (no login; STARTTLS when the server offers it).

A ``SmtpSession`` is one connection that sends many messages (the loop keeps a few open and
reuses them). When the server advertises PIPELINING (RFC 2920) the MAIL, RCPT and DATA
commands of a message go out in one write and their answers are read together: two round
trips per message instead of four. Answers are classified per message: 2xx ``sent``, 4xx
``temporary`` (retried), 5xx ``permanent`` (the address is disabled); a broken connection is
``error`` for the messages it had not confirmed (retried on a new connection).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["EmlWriter", "SendOutcome", "SmtpSession", "SmtpTarget", "parse_smtp_url"]

_DOTS = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect."""

    host: str
    port: int
    implicit_tls: bool = False
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password in a log line
        return f"SmtpTarget({self.host}:{self.port}, tls={self.implicit_tls}, user={self.user})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://`` or ``smtps://`` URL to a target; ValueError with a clear message."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("STATUSPAGE_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("STATUSPAGE_SMTP_URL has no host")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise ValueError("STATUSPAGE_SMTP_URL has an invalid port") from None
    return SmtpTarget(parts.hostname, port, parts.scheme == "smtps",
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


@dataclass(frozen=True)
class SendOutcome:
    """One message's fate: ``sent``, ``temporary``, ``permanent`` or ``error``."""

    outcome: str
    detail: str | None = None


def _classify(code: int, message: bytes | str) -> SendOutcome:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    detail = f"{code} {text}".strip()[:300]
    if 200 <= code < 400:
        return SendOutcome("sent", detail)
    if 400 <= code < 500:
        return SendOutcome("temporary", detail)
    if 500 <= code < 600:
        return SendOutcome("permanent", detail)
    return SendOutcome("error", detail)


class SmtpSession:
    """One open SMTP connection (used by one thread at a time)."""

    def __init__(self, target: SmtpTarget, *, timeout_s: float = 30.0,
                 local_hostname: str | None = None) -> None:
        context = ssl.create_default_context()
        if target.implicit_tls:
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port,
                                                       local_hostname=local_hostname,
                                                       timeout=timeout_s, context=context)
        else:
            self.smtp = smtplib.SMTP(target.host, target.port, local_hostname=local_hostname,
                                     timeout=timeout_s)
        try:
            self.smtp.ehlo()
            if not target.implicit_tls and self.smtp.has_extn("starttls"):
                self.smtp.starttls(context=context)
                self.smtp.ehlo()
            elif not target.implicit_tls and target.password:
                raise smtplib.SMTPNotSupportedError(
                    "the server offers no STARTTLS: refusing to send the password in clear")
            if target.user:
                self.smtp.login(target.user, target.password or "")
        except BaseException:
            self.close()
            raise
        self.pipelining = self.smtp.has_extn("pipelining")
        self.last_used = 0.0

    def send(self, sender: str, recipient: str, data: bytes) -> SendOutcome:
        """Send one message (7-bit ``data`` with CRLF line ends); raises ``OSError`` /
        ``smtplib.SMTPException`` when the connection breaks."""
        body = _DOTS.sub(b"..", data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        body += b".\r\n"
        if self.pipelining:
            self.smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
            replies = [self.smtp.getreply() for _ in range(3)]
        else:
            replies = [self.smtp.docmd(f"MAIL FROM:<{sender}>")]
            if replies[0][0] == 250:
                replies.append(self.smtp.docmd(f"RCPT TO:<{recipient}>"))
            if replies[-1][0] in (250, 251):
                replies.append(self.smtp.docmd("DATA"))
        (mail_code, mail_text), rcpt = replies[0], replies[1:2]
        if replies[-1][0] == 354:
            if mail_code != 250 or not rcpt or rcpt[0][0] not in (250, 251):
                self.smtp.send(b".\r\n")  # RFC 2920: DATA accepted after a refusal; end it
                self.smtp.getreply()
            else:
                self.smtp.send(body)
                return _classify(*self.smtp.getreply())
        self.smtp.rset()
        if mail_code != 250:
            return _classify(mail_code, mail_text)
        if rcpt and rcpt[0][0] not in (250, 251):
            return _classify(*rcpt[0])
        return _classify(*replies[-1])

    def close(self) -> None:
        """QUIT, or just drop the connection when it is already broken."""
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()


class EmlWriter:
    """The demo's "mail server": each message becomes ``<name>.eml`` in ``directory`` (written
    to a temporary name, then renamed: a reader never sees half a message, and a resend
    replaces the file). The outbox keeps the newest ``keep`` messages: a demo left running
    for weeks never fills its disk (a full disk would stall every delivery)."""

    #: how many writes pass between two prunings (listing the folder is not free)
    PRUNE_EVERY = 100

    def __init__(self, directory: Path, keep: int = 2000) -> None:
        self.directory = directory
        self.keep = keep
        self._writes = 0

    def prune(self) -> int:
        """Delete all but the newest ``keep`` messages (and stale partial files); how many."""
        try:
            found = [(entry.stat().st_mtime_ns, entry) for entry in self.directory.iterdir()
                     if entry.name.endswith((".eml", ".eml.part"))]
        except OSError:
            return 0
        found.sort(key=lambda pair: pair[0], reverse=True)
        gone = 0
        for _, entry in found[self.keep:]:
            try:
                entry.unlink()
                gone += 1
            except OSError:
                continue  # already gone (another worker pruned): nothing lost
        return gone

    def write(self, name: str, data: bytes) -> SendOutcome:
        """Write one message; never raises (a full disk is a temporary failure)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{name}.eml"
            partial = path.with_suffix(".eml.part")
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as exc:
            return SendOutcome("temporary", f"{type(exc).__name__}: {exc}"[:300])
        self._writes += 1
        if self._writes % self.PRUNE_EVERY == 0:
            self.prune()
        return SendOutcome("sent", str(path.name))
