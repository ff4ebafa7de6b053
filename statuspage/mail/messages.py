"""Email messages for subscribers: built with the stdlib ``email`` package from templates.

Every message is ``multipart/alternative`` (plain text, then HTML readable without images),
in the subscriber's language, with a management link and a one-click unsubscribe
(``List-Unsubscribe`` with an https URL and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``, RFC 8058). The same delivery always gives the same message: its
``Message-ID`` comes from the delivery id and ``Date`` from the event, so a resend after a
crash is recognisably the same message.

Kinds: ``confirm`` (the double opt-in link), ``already`` (a confirmed address asked again: its
management link), ``event`` (an incident, maintenance or deadline notice; the subject is the
incident's or deadline's title).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from statuspage.i18n import Catalog, Formatter, load_catalogs
from statuspage.markdown import render_markdown
from statuspage.services import TEMPLATES_DIR
from statuspage.store.mail_deliveries import MailClaim
from statuspage.store.mail_subscribers import link_token
from statuspage.webhooks.formats import EVENT_TITLES, STATUS_WORDS

__all__ = ["Composer", "MailContext", "links"]


@dataclass
class MailContext:
    """What every message needs: the page, the sender and the secret for links."""

    page_name: str
    page_url: str
    sender: str  # the bare address (envelope and From)
    secret_key: str
    time_zone: str = "Asia/Jakarta"
    zone_label: str = "WIB"
    catalogs: dict[str, Catalog] = field(init=False)
    formatters: dict[str, Formatter] = field(init=False)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.catalogs = load_catalogs(("id", "en"))
        self.formatters = {lang: Formatter(lang, self.time_zone, self.zone_label)
                           for lang in ("id", "en")}
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                               autoescape=select_autoescape(["html"]),
                               extensions=["jinja2.ext.i18n"], keep_trailing_newline=True)
        self.env.filters["markdown"] = render_markdown

    @property
    def host(self) -> str:
        """The page's host name (Message-IDs end with it)."""
        return urlsplit(self.page_url).hostname or "localhost"


def links(ctx: MailContext, subscriber_id: str, nonce: str = "") -> dict[str, str]:
    """The subscriber's confirm, manage and unsubscribe URLs."""
    base = ctx.page_url.rstrip("/") + "/subscribe/email"
    return {purpose: f"{base}/{purpose}/{subscriber_id}/"
                     f"{link_token(ctx.secret_key, purpose, subscriber_id, extra)}"
            for purpose, extra in (("confirm", nonce), ("manage", ""), ("unsubscribe", ""))}


def _text_callables(catalog: Catalog) -> dict[str, Callable[..., str]]:
    """gettext for plain-text templates: nothing escaped (an "&" stays an "&")."""

    def gettext(message: str, **variables: object) -> str:
        text = catalog.gettext(message)
        return text % variables if variables else text

    return {"_": gettext, "gettext": gettext}


def _event_view(claim: MailClaim, ctx: MailContext, catalog: Catalog) -> dict[str, Any]:
    """The parts of an event a message shows (subject, status, components, latest update)."""
    lang = claim.language
    payload = claim.event_payload or {}
    kind = claim.event_type or ""
    heading = EVENT_TITLES.get(kind, (kind, kind))[0 if lang == "id" else 1]
    page = ctx.page_url.rstrip("/")

    def word(code: object) -> str:
        return catalog.gettext(STATUS_WORDS.get(str(code), str(code)))

    incident = payload.get("incident")
    if isinstance(incident, dict):
        updates = [u for u in incident.get("incident_updates") or [] if isinstance(u, dict)]
        latest = updates[0] if updates else {}
        return {"subject": str(incident.get("name") or heading), "heading": heading,
                "status": word(incident.get("status")),
                "components": [(str(c.get("name")), word(c.get("status")))
                               for c in incident.get("components") or [] if isinstance(c, dict)],
                "update": str(latest.get("body") or ""),
                "link": page + str(incident.get("shortlink_path") or "/")}
    deadline = payload.get("deadline") if isinstance(payload.get("deadline"), dict) else {}
    assert isinstance(deadline, dict)
    suffix = "_en" if lang == "en" else ""
    name = deadline.get("name" + suffix) or deadline.get("name") or deadline.get("id") or ""
    return {"subject": str(name), "heading": heading, "status": str(deadline.get("level") or ""),
            "components": [],
            "update": str(deadline.get("summary" + suffix) or deadline.get("summary") or ""),
            "link": page + str(deadline.get("path") or "/deadlines")}


def _render(claim: MailClaim, ctx: MailContext, urls: dict[str, str]
            ) -> tuple[str, str, str, datetime]:
    """(subject, text, html, date) of a delivery, with ``urls`` as its links."""
    lang = claim.language if claim.language in ctx.catalogs else "id"
    catalog = ctx.catalogs[lang]
    _ = catalog.gettext  # the name babel's extractor (and tests/statuspage/test_i18n.py) finds
    values: dict[str, Any] = {"page_name": ctx.page_name, "page_url": ctx.page_url,
                              "lang": lang, "fmt": ctx.formatters[lang], **urls}
    when = claim.created_at
    if claim.kind == "event":
        values.update(_event_view(claim, ctx, catalog))
        when = claim.event_occurred_at or when
        values["when"] = ctx.formatters[lang].datetime(when)
        subject = values["subject"]
    elif claim.kind == "confirm":
        subject = _("Confirm your subscription to %(page)s") % {"page": ctx.page_name}
    else:
        subject = _("Your subscription to %(page)s") % {"page": ctx.page_name}
    text = ctx.env.get_template(f"mail/{claim.kind}.txt").render(
        {**values, **_text_callables(catalog)})
    html = ctx.env.get_template(f"mail/{claim.kind}.html").render(
        {**values, **catalog.template_callables()})
    return " ".join(subject.split())[:200], text, html, when


#: Stand-ins for what differs per recipient, in a message built once per event and language.
_TO = "recipient@placeholder.invalid"
_MESSAGE_ID = "<message-id@placeholder.invalid>"
_DATE = format_datetime(datetime(1970, 1, 1, tzinfo=UTC))
_URLS = {p: f"https://placeholder.invalid/{p}-5f3c" for p in ("confirm", "manage",
                                                                "unsubscribe")}
_TEXT, _HTML = "@@text-5f3c@@", "@@html-5f3c@@"


def _skeleton(ctx: MailContext, subject: str) -> bytes:
    """The message with stand-ins: headers folded and MIME structure written by ``email``;
    each part's body is a stand-in for its base64 lines."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject
    message["From"] = f"{ctx.page_name} <{ctx.sender}>"
    message["To"] = _TO
    message["Date"] = _DATE
    message["Message-ID"] = _MESSAGE_ID
    message["List-Id"] = f"{ctx.page_name} <updates.{ctx.host}>"
    message["List-Unsubscribe"] = f"<{_URLS['unsubscribe']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_TEXT, subtype="plain", charset="utf-8", cte="7bit")
    message.add_alternative(_HTML, subtype="html", charset="utf-8", cte="7bit")
    for part in message.iter_parts():
        part.replace_header("Content-Transfer-Encoding", "base64")
    return message.as_bytes()


def _base64(text: str) -> bytes:
    """A text body as base64 lines; lines of text end in CRLF, MIME's canonical form."""
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n").rstrip(b"\r\n")


class Composer:
    """Turns a claimed delivery into the bytes sent (the same claim, the same bytes).

    Rendering and building a MIME message with ``email`` costs about 2 ms; a fan-out sends one
    event in one language to thousands of addresses, so each (kind, event, language) is
    rendered and built once with stand-ins for the links, the recipient, the ``Message-ID``
    and the date, and each recipient's message is that skeleton with its own values filled in
    (its two bodies base64-encoded). Safe to share between threads.
    """

    def __init__(self, ctx: MailContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple[str, str | None, str], tuple[bytes, str, str]] = {}

    def compose(self, claim: MailClaim) -> bytes:
        """The message of one delivery, ready for SMTP (CRLF line ends, 7-bit)."""
        key = (claim.kind, claim.event_public_id, claim.language)
        found = self._cache.get(key)
        if found is None:
            subject, text, html, _when = _render(claim, self.ctx, _URLS)
            found = (_skeleton(self.ctx, subject), text, html)
            if len(self._cache) > 64:  # only the events being sent matter
                self._cache.clear()
            self._cache[key] = found
        skeleton, text, html = found
        urls = links(self.ctx, claim.subscriber_id, claim.confirm_nonce)
        for purpose, stand_in in _URLS.items():
            text, html = text.replace(stand_in, urls[purpose]), html.replace(stand_in,
                                                                              urls[purpose])
        when = claim.event_occurred_at if claim.kind == "event" else None
        head, _, body = skeleton.partition(b"\r\n\r\n")
        for stand_in, value in (
                (_TO, claim.email), (_DATE, format_datetime(when or claim.created_at)),
                (_MESSAGE_ID, f"<mail-{claim.delivery_id}.{claim.subscriber_id}@{self.ctx.host}>"),
                (_URLS["unsubscribe"], urls["unsubscribe"])):
            head = head.replace(stand_in.encode(), value.encode(), 1)
        body = body.replace(_TEXT.encode(), _base64(text), 1).replace(_HTML.encode(),
                                                                     _base64(html), 1)
        return head + b"\r\n\r\n" + body
