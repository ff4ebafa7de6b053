"""What a deadline notice says (pure): its figures as JSON and its text in both languages.

The figures dict is the one shape kept with every notice update, served in ``impact.json``,
written to the evidence files and the PDF, and carried by ``deadline.notice`` webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from statuspage.evidence import Evidence
from statuspage.i18n import Formatter

__all__ = ["DEFINITIONS", "FORMULA", "RECONSTRUCTION_PREFIX", "evidence_json", "formula_text",
           "is_reconstruction", "summary_text"]

#: Imported measurements whose source label starts with this are a reconstruction (not
#: observations), and every page and PDF that shows them says so.
RECONSTRUCTION_PREFIX = "reconstruction:"


def is_reconstruction(sources: tuple[str, ...] | list[str]) -> bool:
    """Whether any source of the evidence is a reconstruction."""
    return any(s.startswith(RECONSTRUCTION_PREFIX) for s in sources)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _s(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 1)


def evidence_json(e: Evidence) -> dict[str, Any]:
    """Every figure, JSON-ready: seconds for durations, ISO 8601 UTC for times."""
    rec = e.recommendation
    longest = e.longest_disruption
    return {
        "window_start": _iso(e.window.start),
        "window_end": _iso(e.window.end),
        "evaluated_until": _iso(e.until),
        "interval_seconds": 300,
        "patience_seconds": e.policy.patience_s,
        "demand_profile": list(e.policy.demand_profile) if e.policy.demand_profile else None,
        "coverage": round(e.coverage, 6),
        "lost_seconds": _s(e.lost),
        "availability": None if e.availability is None else round(e.availability, 6),
        "lost_in_maintenance_seconds": _s(e.lost_in_maintenance),
        "declared_lost_seconds": _s(e.declared_lost),
        "downtime_seconds": _s(e.downtime),
        "downtime_periods": [{"start": _iso(a), "end": _iso(b), "seconds": _s(b - a)}
                             for a, b in e.downtime_periods],
        "longest_disruption": None if longest is None else {
            "start": _iso(longest[0]), "end": _iso(longest[1]),
            "seconds": _s(longest[1] - longest[0])},
        "per_component": [{"id": c.component_id, "attempts": c.attempts,
                           "successes": c.successes,
                           "success_rate": None if c.success_rate is None
                           else round(c.success_rate, 6),
                           "p95_ms": c.p95_ms} for c in e.per_component],
        "per_day": [{"day": d.day.isoformat(), "seconds": _s(d.length),
                     "known_seconds": _s(d.known), "lost_seconds": _s(d.lost),
                     "downtime_seconds": _s(d.downtime)} for d in e.per_day],
        "recommended_extension_days": rec.days,
        "recommendation": {
            "days": rec.days, "by_lost_time": rec.by_lost_time,
            "by_legal_minimum": rec.by_legal_minimum,
            "threshold_seconds": _s(rec.threshold),
            "window_days": None if rec.window_days is None else round(rec.window_days, 4),
            "effective_days": None if rec.effective_days is None
            else round(rec.effective_days, 4),
            "legal_min_days": rec.legal_min_days,
            "new_closing": _iso(rec.new_closing),
        },
        "level": e.level,
        "provisional": e.provisional,
        "sources": list(e.sources),
    }


#: The definitions every notice states, by language.
DEFINITIONS: dict[str, list[tuple[str, str]]] = {
    "id": [
        ("Tingkat keberhasilan perjalanan", "Per interval 5 menit: hasil kali tingkat "
         "keberhasilan setiap komponen yang dibutuhkan (pelamar butuh semuanya). Transaksi yang "
         "lebih lambat dari batas kesabaran dihitung gagal. Interval tanpa pengukuran tidak "
         "diketahui (cakupan), tidak dihitung berhasil."),
        ("Waktu layanan yang hilang", "Jumlah atas interval yang diketahui dari panjang "
         "interval x (1 - tingkat keberhasilan perjalanan), dibobot profil permintaan bila ada: "
         "perkiraan bagian percobaan pelamar yang gagal, dinyatakan dalam jam."),
        ("Periode Downtime", "Interval 5 menit dengan tingkat galat di atas 10% (definisi SLA "
         "Google Cloud); yang berurutan membentuk satu gangguan."),
        ("Kerugian menurut status yang dinyatakan", "Bobot Statuspage: gangguan total dihitung "
         "penuh, gangguan sebagian 0,3."),
    ],
    "en": [
        ("Journey success rate", "Per 5-minute interval: the product of the success rates of "
         "every required component (an applicant needs all of them). A transaction slower than "
         "the patience budget counts as failed. Intervals without measurement are unknown "
         "(coverage), never counted as success."),
        ("Lost service time", "The sum over known intervals of interval length x (1 - journey "
         "success rate), weighted by the demand profile when one is set: the expected share of "
         "applicants' attempts that failed, in hours."),
        ("Downtime Period", "A 5-minute interval with an error rate above 10% (Google Cloud's "
         "SLA definition); consecutive ones form one disruption."),
        ("Declared-status weighted loss", "Statuspage weights: a major outage counts fully, a "
         "partial outage at 0.3."),
    ],
}
FORMULA = "max(ceil(L / 24 h) if L > T, ceil(M - (W - L / 24 h)) if W - L / 24 h < M)"


def formula_text(figures: dict[str, Any], lang: str) -> str:
    """The formula with each input written out."""
    rec = figures["recommendation"]
    lost_h = (figures["lost_seconds"] or 0) / 3600
    threshold_h = (rec["threshold_seconds"] or 0) / 3600
    parts = [f"L = {lost_h:.2f} h, T = {threshold_h:.2f} h"
             + (f" -> {rec['by_lost_time']} d" if lang == "en"
                else f" -> {rec['by_lost_time']} hari")]
    if rec["legal_min_days"] is not None and rec["window_days"] is not None:
        parts.append(f"W = {rec['window_days']:.2f} d, M = {rec['legal_min_days']} d, "
                     f"W - L = {rec['effective_days']:.2f} d -> {rec['by_legal_minimum']} d")
    days = rec["days"]
    parts.append(f"recommended: {days} day(s)" if lang == "en"
                  else f"rekomendasi: {days} hari")
    return "; ".join(parts)


def summary_text(figures: dict[str, Any], fmt: Formatter, name: str) -> str:
    """One paragraph for a notice update, in the formatter's language."""
    en = fmt.language == "en"
    lost = fmt.duration(timedelta(seconds=figures["lost_seconds"] or 0))
    coverage = fmt.percent(figures["coverage"], 0)
    rec = figures["recommendation"]
    closing = datetime.fromisoformat(rec["new_closing"]) if rec["new_closing"] else None
    if en:
        text = (f"{name}: applicants lost an expected {lost} of service in the window "
                f"(measurement coverage {coverage}).")
        if rec["days"]:
            text += (f" Recommended extension: {rec['days']} day(s), to "
                     f"{fmt.datetime(closing)}.")
        if figures["provisional"]:
            text += " The disruption is still going on: these figures are provisional."
    else:
        text = (f"{name}: pelamar kehilangan perkiraan {lost} layanan dalam jendela ini "
                f"(cakupan pengukuran {coverage}).")
        if rec["days"]:
            text += (f" Rekomendasi perpanjangan: {rec['days']} hari, sampai "
                     f"{fmt.datetime(closing)}.")
        if figures["provisional"]:
            text += " Gangguan masih berlangsung: angka ini sementara."
    return text
