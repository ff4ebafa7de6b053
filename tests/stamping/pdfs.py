"""Test documents: good PDFs and every kind of bad upload the service must refuse."""

from __future__ import annotations

import io
import zlib

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

A4 = (595.28, 841.89)


def _font() -> generic.DictionaryObject:
    return generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Font"),
        generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
        generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
    })


def make_pdf(pages: int = 1, *, encrypt: bool = False, bomb_bytes: int = 0,
             jpeg: bool = False) -> bytes:
    """An A4 document with ``pages`` pages of text (optionally encrypted, a bomb, or with a
    /DCTDecode image stream, which pyHanko cannot decode)."""
    w = PdfFileWriter()
    font = w.add_object(_font())
    for n in range(pages):
        text = f"BT /F1 14 Tf 72 770 Td (Surat pernyataan, halaman {n + 1}) Tj ET".encode()
        contents = w.add_object(generic.StreamObject(stream_data=text))
        resources = generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/F1"): font}),
        })
        page = PageObject(contents=contents, resources=resources,
                          media_box=generic.ArrayObject([generic.FloatObject(v)
                                                         for v in (0, 0, *A4)]))
        w.insert_page(page)
    if bomb_bytes:
        # A Flate stream that inflates ~1000:1 (a single layer's maximum).
        data = zlib.compress(b"\0" * bomb_bytes, 9)
        bomb = generic.StreamObject(
            {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
            encoded_data=data)
        w.add_object(bomb)
        w.root[generic.NameObject("/Bomb")] = w.add_object(bomb)
    if jpeg:
        image = generic.StreamObject({
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Image"),
            generic.NameObject("/Width"): generic.NumberObject(1),
            generic.NameObject("/Height"): generic.NumberObject(1),
            generic.NameObject("/ColorSpace"): generic.NameObject("/DeviceGray"),
            generic.NameObject("/BitsPerComponent"): generic.NumberObject(8),
            generic.NameObject("/Filter"): generic.NameObject("/DCTDecode"),
        }, encoded_data=b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9")
        w.root[generic.NameObject("/Scan")] = w.add_object(image)
    if encrypt:
        w.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def raw_pdf(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A hand-written PDF (objects by number) with a correct xref table, for hostile shapes
    that no well-behaved writer would produce."""
    out = bytearray(b"%PDF-1.7\n")
    size = max(objects) + 1
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        if num in offsets:
            out += b"%010d 00000 n \n" % offsets[num]
        else:
            out += b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def parent_loop_pdf() -> bytes:
    """The 407-byte hang of issue 8: a page without /MediaBox whose /Parent chain loops."""
    return raw_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 4 0 R >>",
        3: b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>",
        4: b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>",
        5: b"<< /Length 0 >>\nstream\n\nendstream",
    })


def hostile_pdfs() -> dict[str, bytes]:
    """Every hostile shape of issue 8's PDF classes, by name: each must be refused with 4xx."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    empty = b"<< /Length 0 >>\nstream\n\nendstream"
    return {
        "parent_loop": parent_loop_pdf(),
        "self_parent": raw_pdf({1: catalog, 2: pages,
                                3: b"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>",
                                4: empty}),
        "kids_loop": raw_pdf({1: catalog,
                              2: b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                              3: page, 4: empty}),
        "short_mediabox": raw_pdf({1: catalog, 2: pages,
                                   3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0] "
                                      b"/Contents 4 0 R >>", 4: empty}),
        "flat_mediabox": raw_pdf({1: catalog, 2: pages,
                                  3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 0 0] "
                                     b"/Contents 4 0 R >>", 4: empty}),
        "huge_mediabox": raw_pdf({1: catalog, 2: pages,
                                  3: b"<< /Type /Page /Parent 2 0 R /MediaBox "
                                     b"[0 0 99999999999 842] /Contents 4 0 R >>", 4: empty}),
        "corrupt_flate": raw_pdf({1: catalog, 2: pages, 3: page,
                                  4: b"<< /Length 12 /Filter /FlateDecode >>\nstream\n"
                                     b"not zlib!!!!\nendstream"}),
        "self_reference": raw_pdf({1: catalog, 2: pages,
                                   3: b"<< /Type /Page /Parent 2 0 R /MediaBox 5 0 R "
                                      b"/Contents 4 0 R >>", 4: empty, 5: b"5 0 R"}),
        "fields_loop": raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm "
                                   b"<< /Fields [5 0 R] >> >>", 2: pages, 3: page, 4: empty,
                                5: b"<< /T (a) /Kids [6 0 R] >>",
                                6: b"<< /T (b) /Parent 5 0 R /Kids [5 0 R] >>"}),
    }
