"""The visible e-meterai stamp: an opaque pink design with a QR code that scans at 100 dpi.

The stamp is drawn as one content stream (no images, one standard font), sized to the box
it is given:

- an opaque white ground inside a double pink border, so page content under the box never
  shows through the QR code (it did, and a page of text to the margins made it unreadable);
- the recognisable design of the real stamp ("METERAI ELEKTRONIK", "10000", "SEPULUH RIBU
  RUPIAH", pink), the serial, and a "SIMULASI" badge: this is a simulation, not a stamp;
- a QR code linking to ``{public_url}/verify/{serial}``, with its 4-module quiet zone inside
  the white ground, error correction Q (25%) when the box affords modules of at least
  :data:`PREFERRED_MODULE` points and M (15%) otherwise, and never modules under
  :data:`MIN_MODULE` points: at 100 dpi one point is 1.39 px, and smaller modules stop
  decoding from a 100 dpi scan (measured with pdftoppm and zbarimg).

Wide boxes (at least 1.35 times as wide as high, like the default) put the QR code on the
left and the design on the right; other boxes put a pink band on top and a strip of
vertical text on the right.  :func:`stamp_layout` checks a box before anything is signed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.constants
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

__all__ = ["AMOUNT", "AMOUNT_WORDS", "DEFAULT_SIZE", "FONT_NAME", "MIN_MODULE",
           "PREFERRED_MODULE", "SIMULATION_MARK", "MeteraiStampStyle", "StampLayout",
           "StampTooSmall", "add_link", "font_resource", "meterai_style", "render_stamp",
           "stamp_layout"]

#: The single rate of stamp duty (UU 10/2020), as the real stamp prints it.
AMOUNT = "10000"
AMOUNT_WORDS = "SEPULUH RIBU RUPIAH"
SIMULATION_MARK = "SIMULASI"
TITLE = "METERAI ELEKTRONIK"
#: The stamp's size when the client gives no box (points): 6 x 3.5 cm.
DEFAULT_SIZE = (170.0, 100.0)
#: QR module sizes in points.  1.8 pt (2.5 px at 100 dpi) decoded in every sub-pixel
#: position tried, 1.6 pt in half of them; the preferred size leaves room for a blurred scan.
MIN_MODULE = 1.8
PREFERRED_MODULE = 2.2
QUIET_ZONE = 4  # modules, as ISO/IEC 18004 requires
PINK = (0.86, 0.09, 0.47)
LIGHT_PINK = (0.99, 0.89, 0.94)
WAVE_PINK = (0.96, 0.72, 0.84)
_BORDER = 1.4
_INSET = 3.0  # outer edge to the content area: double border plus a gap
FONT_NAME = "/MtrF"
#: Helvetica-Bold advance widths (AFM, 1/1000 em) of the characters the stamp prints;
#: anything else counts as the widest capital, so text never overflows its box.
_WIDTHS = {" ": 278, "-": 333, ".": 278, ":": 333, "/": 278, "p": 611, **dict.fromkeys(
    "0123456789", 556), **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
        722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778,
        722, 667, 611, 722, 667, 944, 667, 667, 611), strict=True))}
_LEVELS = ((qrcode.constants.ERROR_CORRECT_Q, "Q"), (qrcode.constants.ERROR_CORRECT_M, "M"))


class StampTooSmall(ValueError):
    """The box cannot hold a QR code that scans at 100 dpi; the message gives the minimum."""


@dataclass(frozen=True)
class StampLayout:
    """Where everything goes in a ``width`` x ``height`` stamp (points, stamp coordinates)."""

    width: float
    height: float
    wide: bool
    qr_x: float
    qr_y: float
    qr_side: float  # the QR square including its quiet zone
    module: float
    matrix: tuple[tuple[bool, ...], ...]
    level: str  # error correction: "Q" or "M"


def _matrix(url: str, level: int) -> tuple[tuple[bool, ...], ...]:
    # A fixed mask: qrcode otherwise renders all eight to score them, a quarter of the
    # stamping time; any mask is valid (the symbol says which one it uses).
    qr = qrcode.QRCode(error_correction=level, border=0, mask_pattern=2)
    qr.add_data(url)  # split into byte and alphanumeric segments (the serial is upper case)
    qr.make(fit=True)
    return tuple(tuple(bool(v) for v in row) for row in qr.get_matrix())


def _qr_square(width: float, height: float, wide: bool) -> tuple[float, float, float]:
    """(x, y, side) of the QR square, quiet zone included."""
    inner_h = height - 2 * _INSET
    if wide:
        return _INSET, _INSET, inner_h
    strip = _strip(width, height)
    side = min(inner_h - strip, width - 2 * _INSET - strip)
    return _INSET, _INSET, side


def _strip(width: float, height: float) -> float:
    """Height of the top band and width of the right strip in the compact layout."""
    return max(16.0, 0.18 * min(width, height))


def stamp_layout(width: float, height: float, url: str) -> StampLayout:
    """Plan a ``width`` x ``height`` stamp for ``url``; raise StampTooSmall when the QR
    code would not scan at 100 dpi."""
    wide = width >= 1.35 * height
    x, y, side = _qr_square(width, height, wide)
    best: StampLayout | None = None
    for level, name in _LEVELS:
        matrix = _matrix(url, level)
        module = side / (len(matrix) + 2 * QUIET_ZONE) if side > 0 else 0.0
        plan = StampLayout(width, height, wide, x, y, side, module, matrix, name)
        if module >= PREFERRED_MODULE:
            return plan
        if best is None or module > best.module:
            best = plan
    assert best is not None
    if best.module < MIN_MODULE:
        side = MIN_MODULE * (len(best.matrix) + 2 * QUIET_ZONE)
        wide_h = side + 2 * _INSET
        square = max(side + 2 * _INSET + 16.0, (side + 2 * _INSET) / 0.82)  # see _strip
        raise StampTooSmall(
            f"a {width:g} x {height:g} pt box is too small for a QR code readable at 100 dpi; "
            f"give at least {math.ceil(wide_h * 1.35)} x {math.ceil(wide_h)} pt "
            f"(or {math.ceil(square)} pt square)")
    return best


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def _em(text: str) -> float:
    """Width of ``text`` in em at Helvetica-Bold."""
    return sum(_WIDTHS.get(c, 944) for c in text) / 1000


def _rgb(color: tuple[float, float, float], op: bytes) -> bytes:
    return b"%.3f %.3f %.3f %s" % (*color, op)


class _Canvas:
    """A content stream under construction, with fitted text."""

    def __init__(self) -> None:
        self.ops: list[bytes] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: tuple[float, float, float]
             ) -> None:
        self.ops.append(b"%s %.2f %.2f %.2f %.2f re f" % (_rgb(fill, b"rg"), x, y, w, h))

    def frame(self, x: float, y: float, w: float, h: float, width: float) -> None:
        self.ops.append(b"%s %.2f w %.2f %.2f %.2f %.2f re S" % (_rgb(PINK, b"RG"), width,
                                                                  x, y, w, h))

    def text(self, text: str, x: float, y: float, width: float, height: float,
             color: tuple[float, float, float], *, vertical: bool = False) -> None:
        """``text`` centred in the box, as large as fits (cap height ~0.72 em)."""
        along, across = (height, width) if vertical else (width, height)
        room = along - min(along * 0.08, 4.0)  # a little air at both ends
        size = min(across / 0.8, room / max(_em(text), 0.01))
        if size < 2.5:  # unreadable at any zoom: leave the space blank
            return
        advance = _em(text) * size
        pad_along = (along - advance) / 2
        pad_across = (across - 0.72 * size) / 2
        if vertical:  # reads bottom to top, baseline towards the right edge
            tx, ty = x + width - pad_across, y + pad_along
            matrix = b"0 1 -1 0 %.2f %.2f Tm" % (tx, ty)
        else:
            matrix = b"1 0 0 1 %.2f %.2f Tm" % (x + pad_along, y + pad_across)
        self.ops.append(b"BT %s %s %.2f Tf %s (%s) Tj ET" % (
            _rgb(color, b"rg"), FONT_NAME.encode(), size, matrix, _escape(text)))

    def waves(self, x: float, y: float, w: float, h: float, count: int) -> None:
        """Light guilloche-like waves (security-print look), clipped to the box."""
        self.ops.append(b"q %.2f %.2f %.2f %.2f re W n %s 0.5 w" % (x, y, w, h,
                                                                    _rgb(WAVE_PINK, b"RG")))
        period, amp = max(w / 3, 8.0), h / (count * 2.5)
        for i in range(count):
            base = y + (i + 0.5) * h / count
            phase = (i % 2) * period / 2
            px = x - phase
            self.ops.append(b"%.2f %.2f m" % (px, base))
            while px < x + w:
                q = period / 4
                self.ops.append(b"%.2f %.2f %.2f %.2f %.2f %.2f c" % (
                    px + q * 0.55, base + amp, px + q * 1.45, base + amp, px + 2 * q, base))
                self.ops.append(b"%.2f %.2f %.2f %.2f %.2f %.2f c" % (
                    px + q * 2.55, base - amp, px + q * 3.45, base - amp, px + period, base))
                px += period
            self.ops.append(b"S")
        self.ops.append(b"Q")

    def qr(self, plan: StampLayout) -> None:
        """Dark modules as one filled path of horizontal runs (fewer operators)."""
        m, n = plan.module, len(plan.matrix)
        x0 = plan.qr_x + QUIET_ZONE * m
        y0 = plan.qr_y + QUIET_ZONE * m
        runs = [b"0 g"]
        for r, row in enumerate(plan.matrix):
            y = y0 + (n - 1 - r) * m
            c = 0
            while c < n:
                if row[c]:
                    start = c
                    while c < n and row[c]:
                        c += 1
                    runs.append(b"%.3f %.3f %.3f %.3f re" % (x0 + start * m, y, (c - start) * m,
                                                             m))
                else:
                    c += 1
        runs.append(b"f")
        self.ops.append(b"\n".join(runs))


def _design_wide(canvas: _Canvas, plan: StampLayout, serial: str) -> None:
    x = plan.qr_x + plan.qr_side
    w = plan.width - _INSET - x
    y0, h = _INSET, plan.height - 2 * _INSET
    canvas.rect(x, y0, w, h, LIGHT_PINK)
    canvas.waves(x, y0 + 0.3 * h, w, 0.38 * h, 3)
    pad = min(3.0, w * 0.05)
    x, w = x + pad, w - 2 * pad
    rows: list[tuple[str, float, tuple[float, float, float]]] = [
        ("METERAI", 0.13, PINK), ("ELEKTRONIK", 0.11, PINK), (AMOUNT, 0.22, PINK),
        (AMOUNT_WORDS, 0.085, PINK), (SIMULATION_MARK, 0.14, (1.0, 1.0, 1.0)),
        (serial[:11], 0.09, (0.0, 0.0, 0.0)), (serial[11:], 0.09, (0.0, 0.0, 0.0))]
    gap = (1.0 - sum(r[1] for r in rows)) / len(rows)
    top = y0 + h
    for text, share, color in rows:
        row_h = share * h
        top -= gap * h / 2
        if text == SIMULATION_MARK:
            canvas.rect(x, top - row_h, w, row_h, PINK)
        canvas.text(text, x, top - row_h, w, row_h, color)
        top -= row_h + gap * h / 2


def _design_compact(canvas: _Canvas, plan: StampLayout, serial: str) -> None:
    strip = _strip(plan.width, plan.height)
    inner_w, top = plan.width - 2 * _INSET, plan.height - _INSET
    canvas.rect(_INSET, top - strip, inner_w, strip, PINK)
    white = (1.0, 1.0, 1.0)
    canvas.text(TITLE, _INSET + 1, top - strip * 0.52, inner_w - 2, strip * 0.46, white)
    canvas.text(f"{AMOUNT} {AMOUNT_WORDS}", _INSET + 1, top - strip * 0.95, inner_w - 2,
                strip * 0.38, white)
    x = plan.width - _INSET - strip
    h = top - strip - _INSET
    canvas.rect(x, _INSET, strip, h, LIGHT_PINK)
    half = strip / 2
    canvas.rect(x + 0.5, _INSET + h * 0.62, half - 1, h * 0.38 - 1, PINK)
    canvas.text(SIMULATION_MARK, x + 0.5, _INSET + h * 0.62, half - 1, h * 0.38 - 1, white,
                vertical=True)
    canvas.text(AMOUNT, x + 0.5, _INSET + 1, half - 1, h * 0.6 - 2, PINK, vertical=True)
    canvas.text(serial, x + half, _INSET + 1, half - 0.5, h - 2, (0.0, 0.0, 0.0),
                vertical=True)


def render_stamp(plan: StampLayout, serial: str) -> bytes:
    """The stamp's content stream (uses the font resource :data:`FONT_NAME`)."""
    canvas = _Canvas()
    canvas.ops.append(b"q")
    canvas.rect(0, 0, plan.width, plan.height, (1.0, 1.0, 1.0))  # opaque: nothing shows through
    canvas.frame(_BORDER / 2, _BORDER / 2, plan.width - _BORDER, plan.height - _BORDER, _BORDER)
    canvas.frame(_INSET - 0.6, _INSET - 0.6, plan.width - 2 * _INSET + 1.2,
                 plan.height - 2 * _INSET + 1.2, 0.4)
    if plan.wide:
        _design_wide(canvas, plan, serial)
    else:
        _design_compact(canvas, plan, serial)
    canvas.qr(plan)
    canvas.ops.append(b"Q")
    return b"\n".join(canvas.ops)


def font_resource() -> generic.DictionaryObject:
    return generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica-Bold"),
        pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding")})


class _MeteraiStamp(BaseStamp):
    """A stamp whose content was planned and rendered before signing started."""

    def __init__(self, writer: BasePdfFileWriter, style: MeteraiStampStyle,
                 box: BoxConstraints | None, content: bytes) -> None:
        super().__init__(writer, style, box)
        self._content = content

    def render(self) -> bytes:
        """The pre-rendered content stream, with its font resource."""
        self.set_resource(category=ResourceType.FONT, name=pdf_name(FONT_NAME),
                          value=font_resource())
        return self._content


class MeteraiStampStyle(BaseStampStyle):
    """pyHanko stamp style drawing the content passed as ``text_params["content"]``."""

    def create_stamp(self, writer: BasePdfFileWriter, box: BoxConstraints,
                     text_params: dict[str, Any]) -> _MeteraiStamp:
        """Wrap the pre-rendered stamp (see :func:`render_stamp`)."""
        return _MeteraiStamp(writer, self, box, text_params["content"])


def meterai_style() -> MeteraiStampStyle:
    """The style the signer uses for every stamp."""
    return MeteraiStampStyle(border_width=0)


def add_link(writer: IncrementalPdfFileWriter, index: int,
             box: tuple[float, float, float, float], url: str) -> None:
    """Make the stamp clickable: a /Link annotation to the verification page.

    (The QR stamp only adds its own link when used as a plain stamp, not as the appearance
    of a signature field.)
    """
    page_ref, _ = writer.find_page_for_modification(index)
    page = page_ref.get_object()
    link = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Link"),
        generic.NameObject("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in box),
        generic.NameObject("/Border"): generic.ArrayObject([generic.NumberObject(0)] * 3),
        generic.NameObject("/A"): generic.DictionaryObject({
            generic.NameObject("/S"): generic.NameObject("/URI"),
            generic.NameObject("/URI"): generic.TextStringObject(url),
        }),
    }))
    raw = page.raw_get("/Annots") if "/Annots" in page else None
    if isinstance(raw, generic.IndirectObject):
        annots = raw.get_object()
        annots.append(link)
        writer.update_container(annots)
    else:
        annots = page.get("/Annots", generic.ArrayObject())
        annots.append(link)
        page[generic.NameObject("/Annots")] = annots
        writer.update_container(page)
