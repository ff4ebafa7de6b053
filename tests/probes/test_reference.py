"""The reference PDF: deterministic, one A4 page, readable by a strict parser."""

from __future__ import annotations

import io

from pyhanko.pdf_utils.reader import PdfFileReader

from probes import reference_pdf


def test_is_deterministic_and_cached() -> None:
    assert reference_pdf() is reference_pdf()
    assert reference_pdf().startswith(b"%PDF-1.7")


def test_is_one_a4_page_for_a_strict_reader() -> None:
    reader = PdfFileReader(io.BytesIO(reference_pdf()), strict=True)
    assert reader.root["/Pages"]["/Count"] == 1
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    assert [int(v) for v in page["/MediaBox"]] == [0, 0, 595, 842]
    assert not reader.encrypted
