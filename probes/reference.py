"""The small reference document the stamp probe sends: one A4 page, built byte for byte."""

from __future__ import annotations

import functools

__all__ = ["reference_pdf"]

# A4 in PDF points (1/72 in): 210 x 297 mm.
_A4 = (595, 842)
_TEXT = b"BT /F1 14 Tf 72 770 Td (e-meterai status probe: reference document) Tj ET\n"


@functools.cache
def reference_pdf() -> bytes:
    """A valid one-page A4 PDF, identical on every call (built once, then cached).

    It is assembled by hand rather than with a PDF library so it is deterministic (no
    timestamps or random IDs) and so the probe does not depend on a writer's defaults: six
    objects, a correct cross-reference table and a trailer with a fixed ``/ID``.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % _A4,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%sendstream" % (len(_TEXT), _TEXT),
        b"<< /Producer (emeterai-status probes) >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        # Each entry is exactly 20 bytes, end-of-line included (ISO 32000-1, 7.5.4).
        out += b"%010d 00000 n \n" % offset
    file_id = b"<0123456789abcdef0123456789abcdef>"
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, file_id, file_id, xref_at)
    )
    return bytes(out)
