"""Notice documents: the signed PDF, the signing certificate, and the notice feeds.

``/deadlines/{id}/notice.pdf`` is the notice an agency can file: figures, definitions, the
formula with its inputs, the chart with incidents marked, the operators' statement and the
history, signed (PAdES) with the page's own key, whose certificate is at
``/deadlines/certificate.pem``. ``/deadlines/{id}/notices.rss|atom`` and
``/deadlines/notices.rss|atom`` carry every public notice update.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.routing import BaseRoute, Route

from statuspage.cache import Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.evidence import Evidence
from statuspage.feeds import FeedEntry, FeedInfo, build_feed, tag_uri
from statuspage.i18n import Formatter
from statuspage.notice_chart import journey_chart
from statuspage.notice_pdf import Block, build_pdf
from statuspage.notice_signing import NoticeKey, load_or_create_key, sign_notice
from statuspage.notice_text import (
    DEFINITIONS,
    FORMULA,
    evidence_json,
    formula_text,
    is_reconstruction,
)
from statuspage.services import Services
from statuspage.store.deadline_records import get_deadline
from statuspage.store.notices import public_updates
from statuspage.views.deadlines import read_report
from statuspage.views.public import render_page

__all__ = ["notice_key", "routes"]

log = logging.getLogger(__name__)
PDF = "application/pdf"
PEM = "application/x-pem-file"
MEDIA_TYPES = {"atom": "application/atom+xml; charset=utf-8",
               "rss": "application/rss+xml; charset=utf-8"}
_CORS = ((b"access-control-allow-origin", b"*"),)
_L: dict[str, dict[str, str]] = {
    "id": {"title": "Pemberitahuan dampak tenggat", "agency": "Instansi", "closes": "Ditutup",
           "extended": "diperpanjang dari", "decision": "Keputusan instansi",
           "state": "Status pemberitahuan", "preview": "pratinjau (belum diterbitkan)",
           "level": "Tingkat", "figures": "Angka", "lost": "Waktu layanan yang hilang",
           "coverage": "Cakupan pengukuran", "availability": "Keberhasilan perjalanan",
           "downtime": "Periode Downtime", "longest": "Gangguan beruntun terpanjang",
           "declared": "Kerugian menurut status yang dinyatakan",
           "maintenance": "di antaranya saat pemeliharaan", "patience": "Batas kesabaran",
           "rec": "Rekomendasi perpanjangan", "days": "hari", "until": "sampai",
           "none_rec": "Tidak ada perpanjangan yang direkomendasikan.",
           "provisional": "Gangguan masih berlangsung: angka ini sementara.",
           "formula": "Rumus", "chart": "Tingkat keberhasilan perjalanan sepanjang jendela",
           "chart_note": "Garis biru: tingkat keberhasilan (atas 100%, bawah 0%). Garis merah "
           "putus-putus: insiden. Celah: tidak ada pengukuran.",
           "component": "Komponen", "success": "Keberhasilan", "p95": "p95",
           "attempts": "Transaksi", "day": "Hari", "statement": "Pernyataan operator",
           "history": "Riwayat pemberitahuan", "definitions": "Definisi",
           "incidents": "Insiden dalam jendela", "no_data": "tidak ada data",
           "sources": "Sumber pengukuran impor", "recon": "REKONSTRUKSI dari laporan publik, "
           "bukan pengamatan halaman ini.",
           "signed": "Ditandatangani secara digital (PAdES) dengan kunci halaman status ini; "
           "sertifikat:", "window": "Jendela"},
    "en": {"title": "Deadline impact notice", "agency": "Agency", "closes": "Closes",
           "extended": "extended from", "decision": "Agency decision",
           "state": "Notice state", "preview": "preview (not published)",
           "level": "Level", "figures": "Figures", "lost": "Lost service time",
           "coverage": "Measurement coverage", "availability": "Journey success",
           "downtime": "Downtime Periods", "longest": "Longest continuous disruption",
           "declared": "Declared-status weighted loss",
           "maintenance": "of which during maintenance", "patience": "Patience budget",
           "rec": "Recommended extension", "days": "day(s)", "until": "to",
           "none_rec": "No extension is recommended.",
           "provisional": "The disruption is still going on: these figures are provisional.",
           "formula": "Formula", "chart": "Journey success rate over the window",
           "chart_note": "Blue line: journey success rate (top 100%, bottom 0%). Dashed red "
           "lines: incidents. Gaps: no measurement.",
           "component": "Component", "success": "Success", "p95": "p95",
           "attempts": "Transactions", "day": "Day", "statement": "Operators' statement",
           "history": "Notice history", "definitions": "Definitions",
           "incidents": "Incidents in the window", "no_data": "no data",
           "sources": "Imported measurement sources", "recon": "RECONSTRUCTION from public "
           "reports, not observations by this page.",
           "signed": "Digitally signed (PAdES) with this status page's key; certificate:",
           "window": "Window"},
}


def notice_key(services: Services) -> NoticeKey:
    """The page's signing key, loaded once per process (kept in ``services.notice_key``)."""
    if services.notice_key is None:
        services.notice_key = load_or_create_key(services.settings.data_dir,
                                                 services.settings.config.page.name)
    return services.notice_key


def _blocks(report: dict[str, Any], fmt: Formatter, lang: str, names: dict[str, str],
            page_url: str) -> list[Block]:
    t = _L[lang]
    d = report["deadline"]
    e: Evidence = report["evidence"]
    figures = evidence_json(e)
    notice = report["notice"]
    rec = e.recommendation
    closes = fmt.datetime(d.effective_close)
    if d.extended_to:
        closes += f" ({t['extended']} {fmt.datetime(d.closes_at)})"
    blocks = [Block("p", f"{t['agency']}: {d.agency}. {t['closes']}: {closes}."),
              Block("p", f"{t['window']}: {fmt.datetime(e.window.start)} - "
                         f"{fmt.datetime(e.until)}.")]
    if is_reconstruction(e.sources):
        blocks.append(Block("p", t["recon"] + f" ({', '.join(e.sources)})"))
    elif e.sources:
        blocks.append(Block("p", f"{t['sources']}: {', '.join(e.sources)}."))
    if d.decision:
        blocks.append(Block("p", f"{t['decision']}: {d.decision}"))
    state = notice["state"] if notice else t["preview"]
    blocks.append(Block("p", f"{t['state']}: {state}. {t['level']}: {e.level}."))
    lines = [(t["lost"], fmt.duration(e.lost)
              + (f" ({t['maintenance']}: {fmt.duration(e.lost_in_maintenance)})"
                 if e.lost_in_maintenance else "")),
             (t["coverage"], fmt.percent(e.coverage, 1)),
             (t["availability"], fmt.percent(e.availability) or t["no_data"]),
             (t["downtime"], f"{fmt.duration(e.downtime)} ({len(e.downtime_periods)})"),
             (t["longest"], fmt.duration(e.longest_disruption[1] - e.longest_disruption[0])
              + f", {fmt.datetime(e.longest_disruption[0])}" if e.longest_disruption else "-"),
             (t["declared"], fmt.duration(e.declared_lost) if e.declared_lost is not None
              else t["no_data"]),
             (t["patience"], f"{e.policy.patience_s:.0f} s")]
    blocks += [Block("h", t["figures"]),
               Block("table", rows=[("", ""), *lines], widths=(0.45, 0.55))]
    blocks.append(Block("h", t["rec"]))
    blocks.append(Block("p", f"{rec.days} {t['days']}, {t['until']} "
                             f"{fmt.datetime(rec.new_closing)}." if rec.days else t["none_rec"]))
    if e.provisional:
        blocks.append(Block("p", t["provisional"]))
    blocks += [Block("small", f"{t['formula']}: {FORMULA}"),
               Block("small", formula_text(figures, lang))]
    zone = ZoneInfo(d.time_zone)
    chart = journey_chart(e.intervals, e.window.start, max(e.until, e.window.start),
                          incidents=[(i.started_at, i.name) for i in report["incidents"]],
                          day_starts=[datetime.combine(x.day, time(0), tzinfo=zone)
                                      for x in e.per_day])
    blocks += [Block("h", t["chart"]),
               Block("chart", chart=chart, labels=[fmt.date(day, "short")
                                                   for _x, day in chart.ticks]),
               Block("small", t["chart_note"])]
    if notice and (notice["statement"]["en" if lang == "en" else "id"]
                   or notice["statement"]["id"]):
        blocks += [Block("h", t["statement"]),
                   Block("p", notice["statement"]["en"] if lang == "en"
                         and notice["statement"]["en"] else notice["statement"]["id"])]
    blocks += [Block("h", t["component"]), Block("table", widths=(0.4, 0.2, 0.2, 0.2), rows=[
        (t["component"], t["success"], t["p95"], t["attempts"]),
        *[(names.get(c.component_id, c.component_id),
           fmt.percent(c.success_rate) if c.success_rate is not None else t["no_data"],
           f"{c.p95_ms:.0f} ms" if c.p95_ms is not None else "-", str(c.attempts))
          for c in e.per_component]])]
    blocks.append(Block("table", widths=(0.3, 0.2, 0.25, 0.25), rows=[
        (t["day"], t["coverage"], t["lost"], t["downtime"]),
        *[(fmt.date(x.day), fmt.percent(x.known / x.length, 0) if x.length else "-",
           fmt.duration(x.lost), fmt.duration(x.downtime)) for x in e.per_day]]))
    if report["incidents"]:
        blocks.append(Block("h", t["incidents"]))
        blocks += [Block("small", f"{fmt.datetime(i.started_at)}: {i.name}")
                   for i in report["incidents"][:20]]
    if notice and notice["updates"]:
        blocks.append(Block("h", t["history"]))
        for u in notice["updates"][:15]:
            at = datetime.fromisoformat(u["created_at"].replace("Z", "+00:00"))
            blocks.append(Block("small", f"{fmt.datetime(at)} [{u['kind']}] "
                                         f"{u['body']['en' if lang == 'en' else 'id']}"))
    blocks.append(Block("h", t["definitions"]))
    blocks += [Block("small", f"{term}: {text}") for term, text in DEFINITIONS[lang]]
    blocks.append(Block("small", f"{t['signed']} {page_url}/deadlines/certificate.pem"))
    return blocks


def render_notice_pdf(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines/{id}/notice.pdf``: the signed report in the request's language."""
    deadline_id = request.path_params.get("deadline_id", "")[:64]
    report = read_report(services, deadline_id)
    if report is None:
        return render_page(services, request, "not_found.html", {}, 404)
    config = services.settings.config
    lang = request.lang if request.lang in _L else "en"
    fmt = services.formatters[request.lang]
    names = {c.id: c.name for c in config.components}
    d = report["deadline"]
    title = f"{_L[lang]['title']}: {d.name(lang)}"
    footer = (f"{config.page.name} - {config.page.url}/deadlines/{d.id} - "
              f"{fmt.datetime(report['now'])}")
    pdf = build_pdf(title, _blocks(report, fmt, lang, names, config.page.url), footer)
    signed = sign_notice(pdf, notice_key(services), reason=title, location=config.page.url)
    disposition = f'inline; filename="{d.id}-notice-{lang}.pdf"'.encode()
    return Rendered(200, signed, PDF, None, ((b"content-disposition", disposition),))


def render_certificate(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines/certificate.pem``: the certificate that checks every notice PDF."""
    return Rendered(200, notice_key(services).cert_pem, PEM, None, _CORS)


def _feed_view(kind: str) -> CachedView:
    def render(services: Services, request: RenderRequest) -> Rendered:
        config = services.settings.config
        deadline_id = request.path_params.get("deadline_id")
        en = request.lang == "en"
        with services.db.session() as session:
            if deadline_id is not None and get_deadline(session, deadline_id[:64]) is None:
                return render_page(services, request, "not_found.html", {}, 404)
            rows = public_updates(session, deadline_id[:64] if deadline_id else None)
        url = config.page.url
        entries = []
        for update, notice, deadline in rows:
            link = f"{url}/deadlines/{deadline.id}"
            body = update.body_en if en and update.body_en else update.body_id
            statement = notice.statement_en if en and notice.statement_en else notice.statement_id
            content = services.render_html("_notice_feed_entry.html", {
                "body": body, "statement": statement if update.kind == "published" else "",
                "url": link}, request.lang)
            entries.append(FeedEntry(
                id=tag_uri(url, update.created_at, f"notices/{notice.id}/{update.id}"),
                title=f"{deadline.name(request.lang)}: {update.kind} ({update.level})",
                link=link, published=update.created_at, updated=update.created_at,
                summary=body[:300], content_html=content))
        path = f"/deadlines/{deadline_id}/notices" if deadline_id else "/deadlines/notices"
        updated = rows[0][0].created_at if rows else datetime(2024, 1, 1, tzinfo=UTC)
        info = FeedInfo(id=tag_uri(url, datetime(2024, 1, 1, tzinfo=UTC), path.strip("/")),
                        title=f"{config.page.name}: "
                              + ("deadline notices" if en else "pemberitahuan tenggat"),
                        subtitle="", page_url=f"{url}/deadlines", self_url=f"{url}{path}.{kind}",
                        language=request.lang, updated=updated)
        return Rendered(200, build_feed(info, entries, kind), MEDIA_TYPES[kind], None, _CORS)

    return CachedView(render)


def routes() -> list[BaseRoute]:
    """The notice document routes (listed before ``/deadlines/{id}`` so their names win)."""
    methods = ["GET", "HEAD"]
    return [
        Route("/deadlines/certificate.pem", CachedView(render_certificate, localized=False),
              methods=methods),
        Route("/deadlines/notices.rss", _feed_view("rss"), methods=methods),
        Route("/deadlines/notices.atom", _feed_view("atom"), methods=methods),
        Route("/deadlines/{deadline_id}/notices.rss", _feed_view("rss"), methods=methods),
        Route("/deadlines/{deadline_id}/notices.atom", _feed_view("atom"), methods=methods),
        Route("/deadlines/{deadline_id}/notice.pdf", CachedView(render_notice_pdf),
              methods=methods),
    ]

