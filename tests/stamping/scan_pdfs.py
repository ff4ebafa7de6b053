"""Pages people stamp, for the scan tests: a letter, a page of text to the margins, a scan.

Each builder takes the page size in points (A4 or Letter, portrait or landscape).
"""

from __future__ import annotations

import io
import random
import zlib

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)
SIZES = {"a4-portrait": A4, "a4-landscape": (A4[1], A4[0]),
         "letter-portrait": LETTER, "letter-landscape": (LETTER[1], LETTER[0])}
WORDS = ("saya yang bertanda tangan di bawah ini menyatakan dengan sesungguhnya bahwa data "
         "yang saya sampaikan dalam pendaftaran seleksi calon aparatur sipil negara adalah "
         "benar dan dapat dipertanggungjawabkan").split()

_N = generic.NameObject


def _font() -> generic.DictionaryObject:
    return generic.DictionaryObject({
        _N("/Type"): _N("/Font"), _N("/Subtype"): _N("/Type1"),
        _N("/BaseFont"): _N("/Helvetica")})


def _page(w: PdfFileWriter, size: tuple[float, float], content: bytes,
          xobjects: dict[str, generic.IndirectObject] | None = None, rotate: int = 0) -> bytes:
    resources = generic.DictionaryObject({_N("/Font"): generic.DictionaryObject(
        {_N("/F1"): w.add_object(_font())})})
    if xobjects:
        resources[_N("/XObject")] = generic.DictionaryObject(
            {_N(k): v for k, v in xobjects.items()})
    w.insert_page(PageObject(
        contents=w.add_object(generic.StreamObject(stream_data=content)), resources=resources,
        media_box=generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, *size)])))
    if rotate:
        w.root["/Pages"]["/Kids"][0][_N("/Rotate")] = generic.NumberObject(rotate)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _line(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(x) + 1 for x in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:chars]


def letter(size: tuple[float, float]) -> bytes:
    """A one-page statement letter: heading, paragraphs, and a signature block bottom right."""
    rng = random.Random(1)
    width, height = size
    ops = [b"BT /F1 14 Tf 72 %.1f Td (SURAT PERNYATAAN) Tj ET" % (height - 80)]
    y = height - 120
    chars = int((width - 144) / 5.5)
    for _ in range(12):
        ops.append(b"BT /F1 11 Tf 72 %.1f Td (%s) Tj ET" % (y, _line(rng, chars).encode()))
        y -= 16
    sx = width - 220
    ops.append(b"BT /F1 11 Tf %.1f 230 Td (Jakarta, 3 September 2024) Tj ET" % sx)
    ops.append(b"BT /F1 11 Tf %.1f 214 Td (Yang menyatakan,) Tj ET" % sx)
    ops.append(b"BT /F1 11 Tf %.1f 150 Td (Siti Aminah) Tj ET" % sx)
    return _page(PdfFileWriter(), size, b"\n".join(ops))


def full_text(size: tuple[float, float]) -> bytes:
    """Text from margin to margin, top to bottom (9 pt lines every 10 pt)."""
    rng = random.Random(2)
    width, height = size
    chars = int((width - 40) / 4.4)
    ops = []
    y = height - 30
    while y > 12:
        ops.append(b"BT /F1 9 Tf 20 %.1f Td (%s) Tj ET" % (y, _line(rng, chars).encode()))
        y -= 10
    return _page(PdfFileWriter(), size, b"\n".join(ops))


def scanned(size: tuple[float, float], rotate: int = 0) -> bytes:
    """A scanned page: one greyscale image over the whole page (paper grey, dark strokes of
    "text" everywhere), with an invisible OCR text layer, as scanners write them; ``rotate``
    sets the page's /Rotate (scanners turn landscape pages that way)."""
    rng = random.Random(3)
    width, height = size
    cols, rows = int(width / 72 * 50), int(height / 72 * 50)  # 50 dpi
    pixels = bytearray(rng.randrange(225, 245) for _ in range(cols * rows))
    for r in range(20, rows - 10, 7):  # lines of dark "words"
        c = 15
        while c < cols - 15:
            word = rng.randrange(4, 18)
            for cc in range(c, min(c + word, cols - 15)):
                for rr in range(r, r + 3):
                    pixels[rr * cols + cc] = rng.randrange(20, 90)
            c += word + rng.randrange(2, 5)
    w = PdfFileWriter()
    image = w.add_object(generic.StreamObject({
        _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Image"),
        _N("/Width"): generic.NumberObject(cols), _N("/Height"): generic.NumberObject(rows),
        _N("/ColorSpace"): _N("/DeviceGray"), _N("/BitsPerComponent"): generic.NumberObject(8),
        _N("/Filter"): _N("/FlateDecode")}, encoded_data=zlib.compress(bytes(pixels))))
    ocr = b"BT 3 Tr /F1 10 Tf 40 %.1f Td (%s) Tj ET" % (height / 2, b"teks hasil OCR")
    content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q\n%s" % (width, height, ocr)
    return _page(w, size, content, {"/Im0": image}, rotate)


KINDS = {"letter": letter, "full-text": full_text, "scanned": scanned}
