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
