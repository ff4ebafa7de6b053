"""What a probe-made draft says to the public: the operators' own template text.

The evidence (probes, success rate, error classes, p95) is for operators; applicants need to
know what fails, that their quota and payments are safe, and that the team is on it. So a
draft takes its title and message from the incident template the operators keep for that
component and status ("Layanan pembubuhan tidak tersedia ..."), and falls back to a plain
sentence when no template fits. The evidence summary stays in the operator's view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from statuspage.evaluation import OUTAGES
from statuspage.models.operators import IncidentTemplate
from statuspage.status import component_severity
from statuspage.store.templates import list_templates

__all__ = ["PublicText", "choose_template", "public_text"]


@dataclass(frozen=True)
class PublicText:
    """A title and a message written for the public."""

    title: str
    body: str
    template_id: str | None = None


def choose_template(templates: Sequence[IncidentTemplate], component_id: str,
                    status: str) -> IncidentTemplate | None:
    """The template for ``component_id`` whose declared status is nearest ``status``.

    Only a template of the same kind of trouble counts: an outage (partial or major) takes an
    outage template, degraded performance a degraded one ("slow purchases" must never announce
    a total outage, nor the reverse). Ties go to the first in the operators' order.
    """
    best: tuple[int, int] | None = None
    chosen = None
    for order, template in enumerate(templates):
        declared = (template.components or {}).get(component_id)
        if declared is None or (declared in OUTAGES) != (status in OUTAGES) or (
                declared != "degraded_performance" and declared not in OUTAGES):
            continue
        distance = abs(component_severity(declared) - component_severity(status))
        if best is None or (distance, order) < best:
            best, chosen = (distance, order), template
    return chosen


def public_text(session: Session, components: Mapping[str, str], names: Mapping[str, str],
                since: str) -> PublicText:
    """Title and message for a draft covering ``components`` (id -> measured status).

    ``since`` is the start of the trouble as the page writes times ("18.05 WIB").
    """
    templates = list_templates(session)
    chosen = [choose_template(templates, cid, status) for cid, status in components.items()]
    if len(components) == 1 and chosen[0] is not None:
        template = chosen[0]
        return PublicText(template.name, template.body, template.id)
    listed = _join([names.get(cid, cid) for cid in components])
    bodies = list(dict.fromkeys(t.body for t in chosen if t is not None and t.body))
    title = (f"Gangguan pada {listed}" if len(components) == 1
             else "Gangguan pada beberapa layanan e-meterai")
    opening = (f"Sejak {since}, pemantauan otomatis kami mendeteksi gangguan pada {listed}. "
               "Tim kami sedang memeriksa penyebabnya.")
    closing = ("Pembayaran dan kuota yang sudah tercatat tidak hilang. Kami akan memberi kabar "
               "berikutnya di halaman ini.")
    return PublicText(title, " ".join([opening, *bodies] if bodies else [opening, closing]))


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " dan " + items[-1]
