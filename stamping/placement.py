"""Where the stamp goes: on blank space by default, and what a client's box covers.

With no box from the client, the stamp goes where the page shows nothing (from the content
boxes of :mod:`stamping.content_boxes`), as close as possible to the bottom right corner,
or, when the page has a signature field or ink signature, beside the signature rather than
over it (DOMAIN: overlap breaks QR reading).  A page with no blank space big enough gets the
stamp at the bottom right anyway: the stamp is opaque, so its QR still scans, and the
answer says what it covers.  A client's box is used as given, with the same report.

The search rasterises the content boxes (grown by :data:`CLEARANCE`) onto a grid of
:data:`CELL` points held as one integer bit mask per row, so finding every free position
takes a few hundred integer operations per page rather than a scan per candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyhanko.pdf_utils import generic

from stamping.appearance import DEFAULT_SIZE, StampTooSmall, render_stamp, stamp_layout
from stamping.content_boxes import ContentBox, PageScan, scan_page

__all__ = ["CELL", "CLEARANCE", "EDGE_MARGIN", "PREFERRED_MARGIN", "Placement",
           "PlacementError", "covered_kinds", "place", "plan_stamp"]

Rect = tuple[float, float, float, float]
#: Grid resolution of the free-space search (points).
CELL = 4.0
#: Blank space kept between the stamp and the page's content (points).
CLEARANCE = 4.0
#: The stamp never goes nearer the page edge than this (most printers cannot print there).
EDGE_MARGIN = 18.0
#: Where the stamp goes on an empty page: this far from the bottom and right edges.
PREFERRED_MARGIN = 36.0
_GAP_TO_SIGNATURE = 8.0


@dataclass(frozen=True)
class Placement:
    """The stamp's box on the page and what it covers.

    ``overlaps`` lists the kinds of content under the box ("text", "image", "graphics",
    "signature", "annotation"), or is ``("unknown",)`` when the page could not be fully
    scanned (a bound was reached); ``auto`` says the service chose the box.
    """

    box: Rect
    auto: bool
    overlaps: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON form (``GET /api/v1/stamps/{serial}``)."""
        return {"box": [round(v, 2) for v in self.box], "auto": self.auto,
                "overlaps": list(self.overlaps)}


def covered_kinds(box: Rect, scan: PageScan) -> tuple[str, ...]:
    """The kinds of content under ``box`` (touching by less than half a point is not
    covering: text boxes are measured generously)."""
    if not scan.complete:
        return ("unknown",)
    kinds = {b.kind for b in scan.boxes
             if min(box[2], b.rect[2]) - max(box[0], b.rect[0]) > 0.5
             and min(box[3], b.rect[3]) - max(box[1], b.rect[1]) > 0.5}
    return tuple(sorted(kinds))


def _rows(boxes: list[ContentBox], page: Rect, cols: int, rows: int) -> list[int]:
    grid = [0] * rows
    for b in boxes:
        c0 = max(0, math.floor((b.rect[0] - CLEARANCE - page[0]) / CELL))
        c1 = min(cols - 1, math.ceil((b.rect[2] + CLEARANCE - page[0]) / CELL) - 1)
        r0 = max(0, math.floor((b.rect[1] - CLEARANCE - page[1]) / CELL))
        r1 = min(rows - 1, math.ceil((b.rect[3] + CLEARANCE - page[1]) / CELL) - 1)
        if c0 > c1 or r0 > r1:
            continue
        mask = ((1 << (c1 - c0 + 1)) - 1) << c0
        for r in range(r0, r1 + 1):
            grid[r] |= mask
    return grid


def _window_or(values: list[int], size: int) -> list[int]:
    """``out[i] = values[i] | ... | values[i + size - 1]`` by doubling."""
    acc, span = list(values), 1
    while span * 2 <= size:
        acc = [acc[i] | acc[i + span] for i in range(len(acc) - span)]
        span *= 2
    return [acc[i] | acc[i + size - span] for i in range(len(values) - size + 1)]


def _blocked_starts(row: int, width: int) -> int:
    """Bit s set when any of bits s..s+width-1 of ``row`` is set."""
    acc, span = row, 1
    while span * 2 <= width:
        acc |= acc >> span
        span *= 2
    return acc | (acc >> (width - span))


def _nearest_bit(bits: int, target: int) -> int | None:
    below = (bits & ((1 << (target + 1)) - 1)).bit_length() - 1 if target >= 0 else -1
    above_bits = bits >> max(target, 0)
    above = (max(target, 0) + (above_bits & -above_bits).bit_length() - 1) if above_bits else -1
    candidates = [c for c in (below, above) if c >= 0]
    return min(candidates, key=lambda c: abs(c - target)) if candidates else None


def _targets(page: Rect, size: tuple[float, float], scan: PageScan) -> list[tuple[float, float]]:
    """Preferred lower-left corners: beside the lowest signature, else bottom right."""
    w, h = size
    signatures = [b.rect for b in scan.boxes if b.kind == "signature"]
    if signatures:
        sig = min(signatures, key=lambda r: (r[1], -r[2]))
        y = (sig[1] + sig[3]) / 2 - h / 2
        return [(sig[0] - _GAP_TO_SIGNATURE - w, y), (sig[2] + _GAP_TO_SIGNATURE, y)]
    return [(page[2] - PREFERRED_MARGIN - w, page[1] + PREFERRED_MARGIN)]


def _default_box(page: Rect, size: tuple[float, float]) -> Rect:
    w, h = size
    margin = PREFERRED_MARGIN if page[2] - page[0] >= w + 2 * PREFERRED_MARGIN else EDGE_MARGIN
    x = max(page[0] + EDGE_MARGIN, page[2] - margin - w)
    y = page[1] + (margin if page[3] - page[1] >= h + 2 * margin else EDGE_MARGIN)
    return x, y, x + w, y + h


def _free_box(page: Rect, size: tuple[float, float], scan: PageScan) -> Rect | None:
    cols = int((page[2] - page[0]) // CELL)
    rows = int((page[3] - page[1]) // CELL)
    wc, hc = math.ceil(size[0] / CELL), math.ceil(size[1] / CELL)
    edge = math.ceil(EDGE_MARGIN / CELL)
    if cols < wc + 2 * edge or rows < hc + 2 * edge:
        return None
    grid = _rows(scan.boxes, page, cols, rows)
    starts = ((1 << (cols - 2 * edge - wc + 1)) - 1) << edge  # start columns inside margins
    windows = _window_or(grid, hc)
    best: tuple[float, int, int] | None = None
    for tx, ty in _targets(page, size, scan):
        tc = min(max(round((tx - page[0]) / CELL), 0), cols)
        tr = round((ty - page[1]) / CELL)
        # Rows nearest the target first: stop once no row can beat the best found.
        for r in sorted(range(edge, rows - edge - hc + 1), key=lambda r: abs(r - tr)):
            if best is not None and (r - tr) ** 2 >= best[0]:
                break
            free = starts & ~_blocked_starts(windows[r], wc)
            c = _nearest_bit(free, tc) if free else None
            if c is None:
                continue
            score = (c - tc) ** 2 + (r - tr) ** 2
            if best is None or score < best[0]:
                best = (score, c, r)
    if best is None:
        return None
    x, y = page[0] + best[1] * CELL, page[1] + best[2] * CELL
    return x, y, x + size[0], y + size[1]


def place(scan: PageScan, page: Rect, size: tuple[float, float],
          client_box: Rect | None) -> Placement:
    """The client's box with what it covers, or the best blank spot for ``size``."""
    if client_box is not None:
        return Placement(client_box, False, covered_kinds(client_box, scan))
    box = _free_box(page, size, scan) if scan.complete else None
    if box is None:
        box = _default_box(page, size)
    # Whole points: the signature field's rectangle is written with integer coordinates.
    box = (float(round(box[0])), float(round(box[1])), float(round(box[0]) + size[0]),
           float(round(box[1]) + size[1]))
    return Placement(box, True, covered_kinds(box, scan))


def _fits(page: Rect, size: tuple[float, float]) -> bool:
    return (page[2] - page[0] >= size[0] + 2 * EDGE_MARGIN
            and page[3] - page[1] >= size[1] + 2 * EDGE_MARGIN)


class PlacementError(ValueError):
    """The stamp cannot go where asked (outside the page, too small for a readable QR)."""


def plan_stamp(page: generic.DictionaryObject, page_box: Rect, client_box: Rect | None,
               url: str, serial: str) -> tuple[Placement, bytes]:
    """Place the stamp on ``page`` and render it: (placement, appearance content stream).

    Raises PlacementError for a client box outside the page or too small for a QR code
    that scans at 100 dpi, before anything is signed or spent.
    """
    if client_box is not None:
        llx, lly, urx, ury = client_box
        if llx < page_box[0] or lly < page_box[1] or urx > page_box[2] or ury > page_box[3]:
            raise PlacementError(f"box {list(client_box)} is outside the page "
                                 f"({[round(v, 2) for v in page_box]})")
        client_box = (float(round(llx)), float(round(lly)), float(round(urx)),
                      float(round(ury)))
    scan = scan_page(page, page_box)
    size = DEFAULT_SIZE
    if client_box is None and not _fits(page_box, size):
        size = (DEFAULT_SIZE[1], DEFAULT_SIZE[1])  # the compact square layout
        if not _fits(page_box, size):
            raise PlacementError("the page is too small for the stamp "
                                 f"({size[0]:g} x {size[1]:g} pt plus margins)")
    placed = place(scan, page_box, size, client_box)
    box = placed.box
    try:
        layout = stamp_layout(box[2] - box[0], box[3] - box[1], url)
    except StampTooSmall as exc:
        raise PlacementError(str(exc)) from None
    return placed, render_stamp(layout, serial)
