"""Placement: blank space near the bottom right, beside a signature, and honest reports."""

from __future__ import annotations

import pytest

from stamping.appearance import DEFAULT_SIZE
from stamping.content_boxes import ContentBox, PageScan
from stamping.placement import (
    CLEARANCE,
    EDGE_MARGIN,
    PREFERRED_MARGIN,
    PlacementError,
    covered_kinds,
    place,
    plan_stamp,
)
from tests.stamping.scan_pdfs import KINDS, SIZES
from tests.stamping.test_content_boxes import _page

A4 = (0.0, 0.0, 595.28, 841.89)
W, H = DEFAULT_SIZE


def _clear_of(box: tuple[float, ...], scan: PageScan) -> bool:
    return all(min(box[2], b.rect[2]) <= max(box[0], b.rect[0])
               or min(box[3], b.rect[3]) <= max(box[1], b.rect[1]) for b in scan.boxes)


def test_an_empty_page_gets_the_stamp_bottom_right() -> None:
    placed = place(PageScan(), A4, DEFAULT_SIZE, None)
    assert placed.auto and placed.overlaps == ()
    assert placed.box[2] == pytest.approx(A4[2] - PREFERRED_MARGIN, abs=4)
    assert placed.box[1] == pytest.approx(PREFERRED_MARGIN, abs=4)
    assert (placed.box[2] - placed.box[0], placed.box[3] - placed.box[1]) == DEFAULT_SIZE


def test_content_in_the_corner_moves_the_stamp_to_the_nearest_blank_space() -> None:
    scan = PageScan([ContentBox("text", (300, 20, 580, 150)),
                     ContentBox("text", (40, 600, 560, 800))])
    placed = place(scan, A4, DEFAULT_SIZE, None)
    assert placed.overlaps == ()
    assert _clear_of(placed.box, scan)
    # Just above the block or just left of it, whichever is nearer the corner.
    assert placed.box[1] >= 150 + CLEARANCE or placed.box[2] <= 300 - CLEARANCE
    assert placed.box[1] < 300


def test_the_stamp_goes_beside_a_signature_not_over_it() -> None:
    signature = (400.0, 60.0, 540.0, 130.0)
    scan = PageScan([ContentBox("signature", signature),
                     ContentBox("text", (72, 300, 520, 780))])
    placed = place(scan, A4, DEFAULT_SIZE, None)
    assert placed.overlaps == ()
    assert placed.box[2] <= signature[0]  # to its left
    assert placed.box[1] < signature[3] and placed.box[3] > signature[1]  # at its height


def test_a_full_page_gets_the_default_corner_and_says_what_is_covered() -> None:
    scan = PageScan([ContentBox("text", (20, y, 575, y + 9)) for y in range(12, 830, 10)]
                    + [ContentBox("image", (300, 20, 400, 60))])
    placed = place(scan, A4, DEFAULT_SIZE, None)
    assert placed.auto
    assert placed.overlaps == ("image", "text")
    assert placed.box[2] == pytest.approx(A4[2] - PREFERRED_MARGIN, abs=1)


def test_an_incomplete_scan_reports_unknown() -> None:
    placed = place(PageScan(complete=False), A4, DEFAULT_SIZE, None)
    assert placed.overlaps == ("unknown",)
    assert covered_kinds((0, 0, 10, 10), PageScan(complete=False)) == ("unknown",)


def test_a_client_box_is_kept_and_its_overlaps_reported() -> None:
    scan = PageScan([ContentBox("text", (72, 700, 300, 712)),
                     ContentBox("signature", (400, 60, 540, 130))])
    assert place(scan, A4, DEFAULT_SIZE, (100, 650, 270, 750)).overlaps == ("text",)
    assert place(scan, A4, DEFAULT_SIZE, (350, 50, 520, 150)).overlaps == ("signature",)
    # Touching by a fraction of a point is not covering.
    assert place(scan, A4, DEFAULT_SIZE, (100, 712.3, 270, 812)).overlaps == ()


@pytest.mark.parametrize("size", list(SIZES))
def test_real_pages(size: str) -> None:
    dims = SIZES[size]
    page_box = (0.0, 0.0, *dims)
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    for kind, build in KINDS.items():
        reader = PdfFileReader(io.BytesIO(build(dims)))
        page = reader.root["/Pages"]["/Kids"][0]
        placed, content = plan_stamp(page, page_box, None, "http://x.test/verify/A", "A" * 22)
        assert content.startswith(b"q")
        box = placed.box
        assert box[0] >= EDGE_MARGIN and box[2] <= dims[0] - EDGE_MARGIN
        assert box[1] >= EDGE_MARGIN and box[3] <= dims[1] - EDGE_MARGIN
        assert placed.overlaps == {"letter": (), "full-text": ("text",),
                                   "scanned": ("image",)}[kind], (kind, size)


def test_client_boxes_outside_the_page_or_too_small_are_refused() -> None:
    page = _page(b"")
    with pytest.raises(PlacementError, match="outside the page"):
        plan_stamp(page, A4, (500, 700, 700, 900), "http://x.test/verify/A", "A" * 22)
    with pytest.raises(PlacementError, match="too small for a QR code"):
        plan_stamp(page, A4, (100, 100, 150, 150), "http://x.test/verify/A", "A" * 22)
    with pytest.raises(PlacementError, match="page is too small"):
        plan_stamp(page, (0, 0, 120, 120), None, "http://x.test/verify/A", "A" * 22)


def test_the_stamp_goes_inside_the_visible_area_of_a_cropped_page() -> None:
    from pyhanko.pdf_utils import generic

    page = _page(b"")
    crop = (50.0, 100.0, 450.0, 700.0)
    page[generic.NameObject("/CropBox")] = generic.ArrayObject(
        generic.FloatObject(v) for v in crop)
    placed, _ = plan_stamp(page, A4, None, "http://x.test/verify/A", "A" * 22)
    box = placed.box
    assert crop[0] <= box[0] and box[2] <= crop[2] - EDGE_MARGIN
    assert crop[1] + EDGE_MARGIN <= box[1] and box[3] <= crop[3]
    assert box[2] == pytest.approx(crop[2] - PREFERRED_MARGIN, abs=4)
