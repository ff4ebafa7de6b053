"""Bounded, cycle-checked walks of hostile PDFs (issue 8: a looping /Parent hung a worker)."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping import pdfwalk
from stamping.document_error import DocumentError
from tests.stamping.pdfs import hostile_pdfs, make_pdf, raw_pdf

#: What the structure check says of each hostile shape (None: the structure is fine and
#: the refusal comes later, from the page geometry or the streams).
STRUCTURE = {
    "parent_loop": "loops back", "self_parent": "loops back", "kids_loop": "loops back",
    "fields_loop": "loops back", "self_reference": None, "short_mediabox": None,
    "flat_mediabox": None, "huge_mediabox": None, "corrupt_flate": None,
}


def _reader(data: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(data), strict=False)


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structure_walk_refuses_every_loop(name: str) -> None:
    reader = _reader(hostile_pdfs()[name])
    expected = STRUCTURE[name]
    if expected is None:
        pdfwalk.check_structure(reader)
    else:
        with pytest.raises(DocumentError, match=expected) as info:
            pdfwalk.check_structure(reader)
        assert info.value.code == "corrupt_pdf"


@pytest.mark.parametrize(("name", "message"), [
    ("short_mediabox", "not four numbers"), ("flat_mediabox", "side of 0"),
    ("huge_mediabox", "impossible number"), ("self_reference", "refers to itself"),
    ("parent_loop", "loops back"), ("self_parent", "loops back"),
])
def test_mediabox_is_bounded_and_validated(name: str, message: str) -> None:
    reader = _reader(hostile_pdfs()[name])
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    with pytest.raises(DocumentError, match=message):
        pdfwalk.mediabox(page)


def test_a_deep_but_finite_parent_chain_is_refused_past_the_limit() -> None:
    depth = pdfwalk.MAX_DEPTH + 5
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 10 0 R >>",
               3: b"<< /Type /Page /Parent 2 0 R >>"}
    for n in range(10, 10 + depth):
        objects[n] = b"<< /Type /Pages /Count 1 /Parent %d 0 R >>" % (n + 1)
    objects[10 + depth] = b"<< /Type /Pages /Count 1 >>"
    with pytest.raises(DocumentError, match="deeper than"):
        pdfwalk.check_structure(_reader(raw_pdf(objects)))


def test_inherited_mediabox_of_a_real_tree() -> None:
    reader = _reader(make_pdf(pages=3))
    pdfwalk.check_structure(reader)
    page = reader.root["/Pages"]["/Kids"][2].get_object()
    assert pdfwalk.mediabox(page) == pytest.approx((0, 0, 595.28, 841.89))
    assert pdfwalk.inherited(page, "/NoSuchKey") is None
    assert isinstance(pdfwalk.resolve(reader.root.raw_get("/Pages")), generic.DictionaryObject)
