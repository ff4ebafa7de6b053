"""Content boxes of a page: measured conservatively, and the scan of untrusted content is
bounded (operators, bytes, form nesting, self-drawing forms, time)."""

from __future__ import annotations

import io
import math
import time

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from stamping import content_boxes
from stamping.content_boxes import scan_page

PAGE = (0.0, 0.0, 595.28, 841.89)
_N = generic.NameObject


def _form(w: PdfFileWriter, content: bytes, xobjects: dict[str, object] | None = None
          ) -> tuple[generic.IndirectObject, generic.StreamObject]:
    form = generic.StreamObject({
        _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Form"),
        _N("/BBox"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, 100, 100)])},
        stream_data=content)
    return w.add_object(form), form


def _page(content: bytes, *, xobjects: dict[str, object] | None = None,
          annots: list[generic.DictionaryObject] | None = None,
          writer: PdfFileWriter | None = None) -> generic.DictionaryObject:
    """Write a one-page PDF and read its page back, as the signer does."""
    w = writer or PdfFileWriter()
    font = w.add_object(generic.DictionaryObject({
        _N("/Type"): _N("/Font"), _N("/Subtype"): _N("/Type1"),
        _N("/BaseFont"): _N("/Helvetica"), _N("/FirstChar"): generic.NumberObject(32),
        _N("/Widths"): generic.ArrayObject([generic.NumberObject(500)] * 95)}))
    resources = generic.DictionaryObject({_N("/Font"): generic.DictionaryObject(
        {_N("/F1"): font})})
    if xobjects:
        resources[_N("/XObject")] = generic.DictionaryObject(
            {_N(k): v for k, v in xobjects.items()})
    page = PageObject(contents=w.add_object(generic.StreamObject(stream_data=content)),
                      resources=resources, media_box=generic.ArrayObject(
                          [generic.FloatObject(v) for v in PAGE]))
    if annots:
        page[_N("/Annots")] = generic.ArrayObject(w.add_object(a) for a in annots)
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    reader = PdfFileReader(io.BytesIO(out.getvalue()))
    result = reader.root["/Pages"]["/Kids"][0]
    assert isinstance(result, generic.DictionaryObject)
    return result


def test_text_is_measured_with_the_font_widths() -> None:
    scan = scan_page(_page(b"BT /F1 10 Tf 100 700 Td (abcd) Tj ET"), PAGE)
    assert scan.complete
    [box] = scan.boxes
    assert box.kind == "text"
    # 4 glyphs of 500/1000 em at 10 pt = 20 pt; from 0.25 em below to 0.95 em above.
    assert box.rect == pytest.approx((100, 697.5, 120, 709.5))


def test_kinds_transforms_and_what_does_not_show() -> None:
    content = b"""
    1 g 0 0 595 842 re f
    0 g q 2 0 0 2 10 10 cm 0 0 5 5 re f Q
    q 50 0 0 40 300 300 cm BI /W 1 /H 1 /BPC 8 /CS /G ID \x80 EI Q
    BT 3 Tr /F1 12 Tf 50 500 Td (invisible OCR text) Tj ET
    q 0 0 10 10 re W n 0 g 0 0 200 200 re f Q
    [(T) 120 (J)] TJ
    """
    scan = scan_page(_page(content), PAGE)
    kinds = sorted((b.kind, tuple(round(v) for v in b.rect)) for b in scan.boxes)
    assert kinds == [("graphics", (0, 0, 10, 10)),     # clipped to the 10 x 10 clip path
                     ("graphics", (10, 10, 20, 20)),   # scaled by the CTM
                     ("image", (300, 300, 350, 340))]  # inline image, unit square by CTM
    # the white page background and the invisible text are not content


def test_annotations_and_signature_fields() -> None:
    sig = generic.DictionaryObject({
        _N("/Type"): _N("/Annot"), _N("/Subtype"): _N("/Widget"), _N("/FT"): _N("/Sig"),
        _N("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (400, 60, 540, 120)])})
    link = generic.DictionaryObject({
        _N("/Type"): _N("/Annot"), _N("/Subtype"): _N("/Link"),
        _N("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, 50, 50)])})
    scan = scan_page(_page(b"", annots=[sig, link]), PAGE)
    assert [(b.kind, b.rect) for b in scan.boxes] == [("signature", (400, 60, 540, 120))]


def test_a_form_that_draws_itself_is_followed_once() -> None:
    w = PdfFileWriter()
    ref, form = _form(w, b"0 g 0 0 10 10 re f /Me Do")
    form[_N("/Resources")] = generic.DictionaryObject({_N("/XObject"): generic.DictionaryObject(
        {_N("/Me"): ref})})
    started = time.perf_counter()
    scan = scan_page(_page(b"q 1 0 0 1 100 100 cm /Me Do Q", xobjects={"/Me": ref}, writer=w),
                     PAGE)
    assert time.perf_counter() - started < 1
    assert scan.complete
    assert [(b.kind, b.rect) for b in scan.boxes] == [("graphics", (100, 100, 110, 110))]


def test_forms_nested_too_deep_stop_the_scan() -> None:
    w = PdfFileWriter()
    inner, _ = _form(w, b"0 g 0 0 1 1 re f")
    for _ in range(content_boxes.MAX_FORM_DEPTH + 2):
        outer, form = _form(w, b"/In Do")
        form[_N("/Resources")] = generic.DictionaryObject({
            _N("/XObject"): generic.DictionaryObject({_N("/In"): inner})})
        inner = outer
    scan = scan_page(_page(b"/In Do", xobjects={"/In": inner}, writer=w), PAGE)
    assert not scan.complete


def test_operator_cap_and_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    many = b"0 0 m 1 1 l S\n" * (content_boxes.MAX_OPERATORS // 3 + 10)
    started = time.perf_counter()
    assert not scan_page(_page(many), PAGE).complete
    assert time.perf_counter() - started < 10
    monkeypatch.setattr(content_boxes, "TIME_BUDGET_S", 0.0)
    assert not scan_page(_page(b"0 0 m 1 1 l S\n" * 3000), PAGE).complete


@pytest.mark.parametrize("content", [
    b"BT /F1 10 Tf (unterminated",            # a string that never ends
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",  # arrays nested without end
    b"BI /W 1 ID \xff\xff",                    # an inline image without EI
    b"/Missing Do 1 2 3 cm Q Q Q ET Tj TJ",     # operators without their operands
    b"BT /Nope 12 Tf (x) Tj ET",              # a font that does not exist
    b"0 g 0 0 " + b"9" * 400 + b" 10 re f 1 0 0 1 0 0 cm",  # a number too big for a float
])
def test_damaged_content_never_raises(content: bytes) -> None:
    scan = scan_page(_page(content), PAGE)
    assert isinstance(scan.complete, bool)
    assert all(math.isfinite(v) for b in scan.boxes for v in b.rect)


def test_two_byte_fonts_use_their_cid_widths_and_hex_strings_count_bytes() -> None:
    w = PdfFileWriter()
    descendant = w.add_object(generic.DictionaryObject({
        _N("/Type"): _N("/Font"), _N("/Subtype"): _N("/CIDFontType2"),
        _N("/BaseFont"): _N("/Calibri"), _N("/DW"): generic.NumberObject(1000),
        # CIDs 3..5 are 500 wide, CID 10 is 250 wide
        _N("/W"): generic.ArrayObject([generic.NumberObject(3), generic.NumberObject(5),
                                       generic.NumberObject(500), generic.NumberObject(10),
                                       generic.ArrayObject([generic.NumberObject(250)])])}))
    type0 = w.add_object(generic.DictionaryObject({
        _N("/Type"): _N("/Font"), _N("/Subtype"): _N("/Type0"), _N("/BaseFont"): _N("/Calibri"),
        _N("/Encoding"): _N("/Identity-H"),
        _N("/DescendantFonts"): generic.ArrayObject([descendant])}))
    content = (b"BT /T0 10 Tf 100 700 Td <0003 0004 0005 000A> Tj ET "
               b"BT /F1 10 Tf 50 50 Td (\\101) Tj ET")  # one glyph: the escape is one byte
    page = _page(content, writer=w)
    page["/Resources"]["/Font"][_N("/T0")] = type0
    scan = scan_page(page, PAGE)
    # three glyphs of 500 and one of 250 thousandths of an em at 10 pt: 17.5 pt
    assert [b.rect for b in scan.boxes] == [pytest.approx((100, 697.5, 117.5, 709.5)),
                                            pytest.approx((50, 47.5, 55, 59.5))]


def test_forms_that_multiply_are_stopped_by_the_budget() -> None:
    """Each form draws the next one 60 times, 7 deep: 60**7 draws if followed naively."""
    w = PdfFileWriter()
    inner, _ = _form(w, b"0 g 0 0 1 1 re f")
    for _ in range(7):
        outer, form = _form(w, b"/In Do " * 60)
        form[_N("/Resources")] = generic.DictionaryObject({
            _N("/XObject"): generic.DictionaryObject({_N("/In"): inner})})
        inner = outer
    started = time.perf_counter()
    scan = scan_page(_page(b"/In Do", xobjects={"/In": inner}, writer=w), PAGE)
    assert not scan.complete
    assert time.perf_counter() - started < content_boxes.TIME_BUDGET_S + 2
