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

from stamping import pdfwalk
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
    "signature", "annotation"), with "unknown" when the page could not be fully scanned
    (a bound was reached); ``auto`` says the service chose the box.
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
    covering: text boxes are measured generously), plus "unknown" when the scan stopped at
    a bound before the end of the page."""
    kinds = {b.kind for b in scan.boxes
             if min(box[2], b.rect[2]) - max(box[0], b.rect[0]) > 0.5
             and min(box[3], b.rect[3]) - max(box[1], b.rect[1]) > 0.5}
    if not scan.complete:
        kinds.add("unknown")
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


@dataclass(frozen=True)
class _View:
    """The page as people see it: the visible area (CropBox within MediaBox) and /Rotate.

    Placement works in visual coordinates (origin at the displayed bottom left), so "bottom
    right" is where a reader sees it; boxes go back to user space for the PDF.
    """

    area: Rect
    rotate: int  # 0, 90, 180 or 270 (clockwise, as /Rotate)

    @classmethod
    def of(cls, page: generic.DictionaryObject, media: Rect) -> _View:
        area = media
        try:
            crop = pdfwalk.inherited(page, "/CropBox")
            if isinstance(crop, generic.ArrayObject) and len(crop) == 4:
                c = [float(v) for v in crop]
                area = (max(media[0], min(c[0], c[2])), max(media[1], min(c[1], c[3])),
                        min(media[2], max(c[0], c[2])), min(media[3], max(c[1], c[3])))
                if area[2] - area[0] < 1 or area[3] - area[1] < 1:
                    area = media
            rotate = pdfwalk.inherited(page, "/Rotate")
            turn = int(rotate) % 360 if isinstance(rotate, generic.NumberObject) else 0
        except (ValueError, TypeError):
            turn = 0
        return cls(area, turn if turn in (90, 180, 270) else 0)

    @property
    def visual_page(self) -> Rect:
        w, h = self.area[2] - self.area[0], self.area[3] - self.area[1]
        return (0.0, 0.0, h, w) if self.rotate in (90, 270) else (0.0, 0.0, w, h)

    def _point(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.area
        return {0: (x - x0, y - y0), 90: (y - y0, x1 - x), 180: (x1 - x, y1 - y),
                270: (y1 - y, x - x0)}[self.rotate]

    def _user_point(self, vx: float, vy: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.area
        return {0: (vx + x0, vy + y0), 90: (x1 - vy, vx + y0), 180: (x1 - vx, y1 - vy),
                270: (vy + x0, y1 - vx)}[self.rotate]

    def to_visual(self, r: Rect) -> Rect:
        (ax, ay), (bx, by) = self._point(r[0], r[1]), self._point(r[2], r[3])
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def to_user(self, r: Rect) -> Rect:
        (ax, ay), (bx, by) = self._user_point(r[0], r[1]), self._user_point(r[2], r[3])
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def upright(self, content: bytes, user_w: float, user_h: float) -> bytes:
        """Wrap the stamp content drawn upright in visual coordinates so that it shows
        upright on the rotated page (a widget's appearance turns with the page)."""
        matrix = {0: None, 90: b"0 1 -1 0 %.3f 0" % user_w,
                  180: b"-1 0 0 -1 %.3f %.3f" % (user_w, user_h),
                  270: b"0 -1 1 0 0 %.3f" % user_h}[self.rotate]
        return content if matrix is None else b"q %s cm\n%s\nQ" % (matrix, content)


def plan_stamp(page: generic.DictionaryObject, page_box: Rect, client_box: Rect | None,
               url: str, serial: str) -> tuple[Placement, bytes]:
    """Place the stamp on ``page`` and render it: (placement, appearance content stream).

    ``page_box`` is the MediaBox; boxes are in default user space, as in the PDF.  Raises
    PlacementError for a client box outside the page or too small for a QR code that scans
    at 100 dpi, before anything is signed or spent.
    """
    if client_box is not None:
        llx, lly, urx, ury = client_box
        if llx < page_box[0] or lly < page_box[1] or urx > page_box[2] or ury > page_box[3]:
            raise PlacementError(f"box {list(client_box)} is outside the page "
                                 f"({[round(v, 2) for v in page_box]})")
        client_box = (float(round(llx)), float(round(lly)), float(round(urx)),
                      float(round(ury)))
    view = _View.of(page, page_box)
    scan = scan_page(page, page_box)
    visual_scan = PageScan([ContentBox(b.kind, view.to_visual(b.rect)) for b in scan.boxes],
                           scan.complete)
    visual_page = view.visual_page
    size = DEFAULT_SIZE
    if client_box is None and not _fits(visual_page, size):
        size = (DEFAULT_SIZE[1], DEFAULT_SIZE[1])  # the compact square layout
        if not _fits(visual_page, size):
            raise PlacementError("the page is too small for the stamp "
                                 f"({size[0]:g} x {size[1]:g} pt plus margins)")
    placed = place(visual_scan, visual_page, size,
                   None if client_box is None else view.to_visual(client_box))
    if client_box is not None:
        box = client_box
    else:
        # Whole points in user space: the signature field's rectangle is written that way.
        user = view.to_user(placed.box)
        w, h = user[2] - user[0], user[3] - user[1]
        box = (float(round(user[0])), float(round(user[1])), float(round(user[0])) + w,
               float(round(user[1])) + h)
    user_w, user_h = box[2] - box[0], box[3] - box[1]
    visual_w, visual_h = (user_h, user_w) if view.rotate in (90, 270) else (user_w, user_h)
    try:
        layout = stamp_layout(visual_w, visual_h, url)
    except StampTooSmall as exc:
        raise PlacementError(str(exc)) from None
    content = view.upright(render_stamp(layout, serial), user_w, user_h)
    return Placement(box, placed.auto, placed.overlaps), content
