"""Bounding boxes of what a PDF page shows: text, images, graphics and annotations.

Used to place the stamp on blank space and to tell a client whose box covers content.  The
page's content streams are untrusted input, so the scan is bounded: at most
:data:`MAX_OPERATORS` operators and :data:`MAX_CONTENT_BYTES` decoded bytes in all, form
XObjects followed at most :data:`MAX_FORM_DEPTH` deep with a cycle check, and a wall-clock
budget.  A scan that hits a bound returns what it found with ``complete=False``.

Boxes are conservative: text is measured with the font's ``/Widths`` when present (else
0.6 em a glyph, 1 em for two-byte fonts; read by :mod:`stamping.page_resources`) from 0.25 em
below the baseline to 0.95 em above; paths by their control points; images by their unit
square.  White fills (page backgrounds) and invisible text (the OCR layer of a scan, whose
image is counted instead) are ignored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic

from stamping.content_stream import operations
from stamping.page_resources import Font, inherited_resources, lenient_get, load_font

__all__ = ["MAX_CONTENT_BYTES", "MAX_FORM_DEPTH", "MAX_OPERATORS", "ContentBox", "PageScan",
           "scan_page"]

logger = logging.getLogger(__name__)

MAX_OPERATORS = 300_000
MAX_CONTENT_BYTES = 16 * 1024 * 1024
MAX_FORM_DEPTH = 8
MAX_SAVE_DEPTH = 256  # q nesting kept; deeper saves are counted but not stored
TIME_BUDGET_S = 0.5
Rect = tuple[float, float, float, float]
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_STROKES = {b"S", b"s", b"B", b"B*", b"b", b"b*"}
_FILLS = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}


@dataclass(frozen=True)
class ContentBox:
    """One thing the page shows, in default user space (points)."""

    kind: str  # "text", "image", "graphics", "signature" or "annotation"
    rect: Rect


@dataclass
class PageScan:
    """What a page shows; ``complete`` is False when a bound stopped the scan early."""

    boxes: list[ContentBox] = field(default_factory=list)
    complete: bool = True


def _mul(a: Matrix, b: Matrix) -> Matrix:
    """a then b (PDF row-vector convention)."""
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
            a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5])


def _bbox(m: Matrix, x0: float, y0: float, x1: float, y1: float) -> Rect:
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        xs.append(m[0] * x + m[2] * y + m[4])
        ys.append(m[1] * x + m[3] * y + m[5])
    return min(xs), min(ys), max(xs), max(ys)


def _intersect(a: Rect, b: Rect) -> Rect | None:
    r = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return r if r[0] < r[2] and r[1] < r[3] else None


class _Budget(Exception):
    """A bound of the scan was reached."""


@dataclass
class _State:
    ctm: Matrix
    clip: Rect
    fill_white: bool = False
    stroke_white: bool = False
    fill_space: bytes = b"/DeviceGray"
    stroke_space: bytes = b"/DeviceGray"
    line_width: float = 1.0
    font: Font | None = None
    size: float = 0.0
    char_space: float = 0.0
    word_space: float = 0.0
    scale: float = 1.0
    leading: float = 0.0
    rise: float = 0.0
    render: int = 0

    def copy(self) -> _State:
        return _State(**self.__dict__)


def _white(space: bytes, values: list[float]) -> bool:
    if len(values) == 1:
        return values[0] >= 0.999 and space in (b"/DeviceGray", b"/CalGray", b"/G")
    if len(values) == 3:
        return all(v >= 0.999 for v in values) and space != b"/DeviceCMYK"
    if len(values) == 4:
        return all(v <= 0.001 for v in values)
    return False


class _Scanner:
    def __init__(self, page_box: Rect) -> None:
        self.page_box = page_box
        self.scan = PageScan()
        self.operators = 0
        self.bytes = 0
        self.deadline = time.perf_counter() + TIME_BUDGET_S
        self.forms: list[int] = []
        self.fonts: dict[int, Font] = {}

    def add(self, kind: str, rect: Rect, clip: Rect) -> None:
        r = _intersect(rect, clip)
        if r is not None and all(math.isfinite(v) for v in r):  # 400-digit numbers: inf
            self.scan.boxes.append(ContentBox(kind, r))

    # --- text ----------------------------------------------------------------------------

    def show(self, st: _State, tm: list[float], parts: Sequence[bytes | float]) -> None:
        font = st.font or Font()
        advance = 0.0
        for part in parts:
            if isinstance(part, float):
                advance -= part / 1000 * st.size * st.scale
                continue
            if font.two_byte:
                n = max(1, len(part) // 2)
                glyphs = sum(font.cid_widths.get((part[i] << 8) | part[i + 1], font.default)
                             for i in range(0, len(part) - 1, 2)) if font.cid_widths else \
                    font.default * n
                advance += (glyphs / 1000 * st.size + st.char_space * n) * st.scale
                continue
            width = 0.0
            for code in part:
                i = code - font.first
                width += font.widths[i] if 0 <= i < len(font.widths) else font.default
            spaces = part.count(32)
            advance += (width / 1000 * st.size + st.char_space * len(part)
                        + st.word_space * spaces) * st.scale
        if st.render not in (3, 7) and st.size and advance:
            m = _mul((tm[0], tm[1], tm[2], tm[3], tm[4], tm[5]), st.ctm)
            lo, hi = -0.25 * st.size + st.rise, 0.95 * st.size + st.rise
            self.add("text", _bbox(m, min(0.0, advance), lo, max(0.0, advance), hi), st.clip)
        tm[4] += advance * tm[0]
        tm[5] += advance * tm[1]

    # --- the content stream ----------------------------------------------------------------

    def run(self, data: bytes, resources: generic.DictionaryObject, st: _State) -> None:
        self.bytes += len(data)
        if self.bytes > MAX_CONTENT_BYTES:
            raise _Budget("content bytes")
        stack: list[_State] = []
        path: list[float] = []  # x0, y0, x1, y1 in user space, when non-empty
        clip_pending = False
        tm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        tlm = list(tm)
        for op, operands in operations(data):
            self.operators += 1
            if self.operators > MAX_OPERATORS:
                raise _Budget("operators")
            if self.operators % 2048 == 0 and time.perf_counter() > self.deadline:
                raise _Budget("time")
            if op == b"BI":
                self.add("image", _bbox(st.ctm, 0, 0, 1, 1), st.clip)
                continue
            path, clip_pending, st = self.operator(
                op, operands, st, stack, path, clip_pending, tm, tlm, resources)

    def operator(self, op: bytes, args: list[object], st: _State, stack: list[_State],
                 path: list[float], clip_pending: bool, tm: list[float], tlm: list[float],
                 resources: generic.DictionaryObject) -> tuple[list[float], bool, _State]:
        nums = [a for a in args if isinstance(a, float)]
        if op == b"q":
            if len(stack) < MAX_SAVE_DEPTH:
                stack.append(st.copy())
        elif op == b"Q":
            if stack:
                st = stack.pop()
        elif op == b"cm" and len(nums) == 6:
            st.ctm = _mul((nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]), st.ctm)
        elif op in (b"m", b"l", b"c", b"v", b"y") and len(nums) >= 2:
            for i in range(0, len(nums) - 1, 2):
                x = st.ctm[0] * nums[i] + st.ctm[2] * nums[i + 1] + st.ctm[4]
                y = st.ctm[1] * nums[i] + st.ctm[3] * nums[i + 1] + st.ctm[5]
                path = [x, y, x, y] if not path else [min(path[0], x), min(path[1], y),
                                                      max(path[2], x), max(path[3], y)]
        elif op == b"re" and len(nums) == 4:
            r = _bbox(st.ctm, nums[0], nums[1], nums[0] + nums[2], nums[1] + nums[3])
            path = list(r) if not path else [min(path[0], r[0]), min(path[1], r[1]),
                                             max(path[2], r[2]), max(path[3], r[3])]
        elif op in (b"W", b"W*"):
            clip_pending = True
        elif op in _PAINT or op == b"n":
            if path and op != b"n":
                visible = ((op in _FILLS and not st.fill_white)
                           or (op in _STROKES and not st.stroke_white))
                if visible:
                    grow = (st.line_width * max(abs(st.ctm[0]), abs(st.ctm[3])) / 2
                            if op in _STROKES else 0.0)
                    self.add("graphics", (path[0] - grow, path[1] - grow, path[2] + grow,
                                          path[3] + grow), st.clip)
            if clip_pending and path:
                st.clip = _intersect(st.clip, (path[0], path[1], path[2], path[3])) or (
                    0.0, 0.0, 0.0, 0.0)
            path, clip_pending = [], False
        elif op == b"w" and nums:
            st.line_width = nums[0]
        elif op in (b"g", b"rg", b"k"):
            st.fill_white = _white({b"g": b"/DeviceGray", b"rg": b"/DeviceRGB",
                                    b"k": b"/DeviceCMYK"}[op], nums)
        elif op in (b"G", b"RG", b"K"):
            st.stroke_white = _white({b"G": b"/DeviceGray", b"RG": b"/DeviceRGB",
                                      b"K": b"/DeviceCMYK"}[op], nums)
        elif op == b"cs" and args:
            st.fill_space, st.fill_white = str(args[0]).encode(), False
        elif op == b"CS" and args:
            st.stroke_space, st.stroke_white = str(args[0]).encode(), False
        elif op in (b"sc", b"scn"):
            st.fill_white = _white(st.fill_space, nums) if len(nums) == len(args) else False
        elif op in (b"SC", b"SCN"):
            st.stroke_white = _white(st.stroke_space, nums) if len(nums) == len(args) else False
        elif op == b"BT":
            tm[:] = tlm[:] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        elif op == b"Tf" and len(args) == 2 and isinstance(args[1], float):
            st.font, st.size = load_font(resources, str(args[0]), self.fonts), args[1]
        elif op == b"Tc" and nums:
            st.char_space = nums[0]
        elif op == b"Tw" and nums:
            st.word_space = nums[0]
        elif op == b"Tz" and nums:
            st.scale = nums[0] / 100
        elif op == b"TL" and nums:
            st.leading = nums[0]
        elif op == b"Ts" and nums:
            st.rise = nums[0]
        elif op == b"Tr" and nums:
            st.render = int(nums[0])
        elif op in (b"Td", b"TD") and len(nums) == 2:
            if op == b"TD":
                st.leading = -nums[1]
            tlm[:] = [tlm[0], tlm[1], tlm[2], tlm[3], nums[0] * tlm[0] + nums[1] * tlm[2]
                      + tlm[4], nums[0] * tlm[1] + nums[1] * tlm[3] + tlm[5]]
            tm[:] = tlm
        elif op == b"Tm" and len(nums) == 6:
            tm[:] = tlm[:] = nums
        elif op in (b"T*", b"'", b'"'):
            if op == b'"' and len(nums) >= 2:
                st.word_space, st.char_space = nums[0], nums[1]
            tlm[:] = [tlm[0], tlm[1], tlm[2], tlm[3], -st.leading * tlm[2] + tlm[4],
                      -st.leading * tlm[3] + tlm[5]]
            tm[:] = tlm
            strings = [a for a in args if isinstance(a, bytes)]
            if op != b"T*" and strings:
                self.show(st, tm, strings[-1:])
        elif op == b"Tj" and args and isinstance(args[-1], bytes):
            self.show(st, tm, [args[-1]])
        elif op == b"TJ" and args and isinstance(args[-1], list):
            self.show(st, tm, [a for a in args[-1] if isinstance(a, (bytes, float))])
        elif op == b"Do" and args:
            self.xobject(str(args[-1]), resources, st)
        elif op == b"sh":
            self.add("graphics", st.clip, st.clip)
        return path, clip_pending, st

    def xobject(self, name: str, resources: generic.DictionaryObject, st: _State) -> None:
        try:
            xobjects = resources["/XObject"]
            raw = xobjects.raw_get(name)
            obj = xobjects[name]
        except Exception:
            return  # a missing XObject draws nothing
        if not isinstance(obj, generic.StreamObject):
            return
        subtype = lenient_get(obj, "/Subtype")
        if subtype == "/Image":
            self.add("image", _bbox(st.ctm, 0, 0, 1, 1), st.clip)
            return
        if subtype != "/Form":
            return
        key = id(raw.get_object() if isinstance(raw, generic.IndirectObject) else raw)
        if key in self.forms:
            logger.info("form XObject %s draws itself; not followed again", name)
            return
        if len(self.forms) >= MAX_FORM_DEPTH:
            raise _Budget("form depth")
        inner = st.copy()
        try:
            matrix = [float(v) for v in lenient_get(obj, "/Matrix", _IDENTITY)]
            inner.ctm = _mul((matrix[0], matrix[1], matrix[2], matrix[3], matrix[4],
                              matrix[5]), st.ctm)
            bbox = [float(v) for v in obj["/BBox"]]
            inner.clip = _intersect(st.clip, _bbox(inner.ctm, *bbox)) or (0.0, 0.0, 0.0, 0.0)
            form_resources = lenient_get(obj, "/Resources", resources)
            data = obj.data
        except (KeyError, ValueError, TypeError, IndexError):
            return
        self.forms.append(key)
        try:
            self.run(data, form_resources, inner)
        finally:
            self.forms.pop()

    def annotations(self, page: generic.DictionaryObject) -> None:
        annots = lenient_get(page, "/Annots", generic.ArrayObject())
        for i in range(min(len(annots), 1000)):
            annot = annots[i]
            if not isinstance(annot, generic.DictionaryObject):
                continue
            subtype = lenient_get(annot, "/Subtype")
            if subtype in ("/Link", "/Popup") or int(lenient_get(annot, "/F", 0)) & 2:
                continue
            try:
                rect = [float(v) for v in annot["/Rect"]]
            except (KeyError, ValueError, TypeError):
                continue
            box = (min(rect[0], rect[2]), min(rect[1], rect[3]), max(rect[0], rect[2]),
                   max(rect[1], rect[3]))
            if box[2] - box[0] < 0.5 or box[3] - box[1] < 0.5:
                continue  # an invisible signature field
            field_type = lenient_get(annot, "/FT")
            parent = lenient_get(annot, "/Parent")
            if field_type is None and isinstance(parent, generic.DictionaryObject):
                field_type = lenient_get(parent, "/FT")
            kind = "signature" if field_type == "/Sig" or subtype == "/Ink" else "annotation"
            self.add(kind, box, self.page_box)


def scan_page(page: generic.DictionaryObject, page_box: Rect) -> PageScan:
    """The content boxes of ``page`` (a page dictionary), clipped to ``page_box``."""
    scanner = _Scanner(page_box)
    try:
        scanner.annotations(page)
        resources = inherited_resources(page)
        contents = lenient_get(page, "/Contents")
        streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
        chunks = []
        for i in range(min(len(streams), 1000)):
            stream = streams[i]
            if isinstance(stream, generic.StreamObject):
                chunks.append(stream.data)
        # Streams of one page are one content stream split anywhere (PDF 32000 7.8.2).
        scanner.run(b"\n".join(chunks), resources, _State(ctm=_IDENTITY, clip=page_box))
    except _Budget as exc:
        logger.info("page content scan stopped at its bound (%s)", exc)
        scanner.scan.complete = False
    except Exception as exc:  # damaged content: what was found so far, marked incomplete
        logger.info("page content scan stopped: %s", exc)
        scanner.scan.complete = False
    return scanner.scan
