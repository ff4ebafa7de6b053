"""The deadline notice as a PDF (pure: blocks of text in, PDF bytes out).

Written with pyHanko's own PDF writer (already a dependency for signing) and the standard
Helvetica fonts, so no second PDF library is needed. Text is WinAnsi (Latin-1 plus a few
marks): Indonesian and English need nothing else; anything outside is replaced by ``?``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from statuspage.notice_chart import Chart

__all__ = ["Block", "build_pdf"]

A4 = (595.28, 841.89)
LEFT, RIGHT, TOP, BOTTOM = 50.0, 545.0, 790.0, 60.0
#: Average Helvetica advance per point of font size, a little generous so lines never overrun.
_EM = 0.53


@dataclass(frozen=True)
class Block:
    """One piece of the report: ``h`` heading, ``p`` paragraph, ``small`` note, ``table``
    (header + rows, ``widths`` as shares of the line) or ``chart``."""

    kind: str
    text: str = ""
    rows: Sequence[Sequence[str]] = ()
    widths: Sequence[float] = ()
    chart: Chart | None = None
    labels: Sequence[str] = field(default_factory=tuple)


def _pdf_text(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(text: str, size: float, width: float) -> list[str]:
    limit = max(8, int(width / (size * _EM)))
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            while len(word) > limit:  # a URL or a hash longer than the line
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:limit])
                word = word[limit:]
            candidate = f"{line} {word}" if line else word
            if len(candidate) > limit:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


class _Layout:
    def __init__(self) -> None:
        self.pages: list[list[bytes]] = []
        self.y = TOP
        self.new_page()

    def new_page(self) -> None:
        self.ops: list[bytes] = []
        self.pages.append(self.ops)
        self.y = TOP

    def need(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.new_page()

    def text(self, x: float, y: float, text: str, size: float, font: str = "F1") -> None:
        self.ops.append(b"BT /%s %.1f Tf %.2f %.2f Td (%s) Tj ET" % (
            font.encode(), size, x, y, _pdf_text(text)))

    def para(self, text: str, size: float = 10.0, font: str = "F1", indent: float = 0.0,
             after: float = 4.0) -> None:
        for line in _wrap(text, size, RIGHT - LEFT - indent):
            self.need(size * 1.35)
            self.y -= size * 1.35
            self.text(LEFT + indent, self.y, line, size, font)
        self.y -= after

    def table(self, rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        size = 8.5
        total = RIGHT - LEFT
        self.need(size * 1.5 * min(len(rows), 3))  # never a header alone at a page's foot
        for n, row in enumerate(rows):
            self.need(size * 1.5)
            self.y -= size * 1.5
            x = LEFT
            for cell, share in zip(row, widths, strict=False):
                room = max(4, int(total * share / (size * _EM)))
                self.text(x, self.y, cell if len(cell) <= room else cell[:room - 1] + "~", size,
                          "F2" if n == 0 else "F1")
                x += total * share
        self.y -= 6

    def chart(self, chart: Chart, labels: Sequence[str]) -> None:
        height = 150.0
        self.need(height + 40)
        top = self.y - 10
        bottom = top - height
        sx = (RIGHT - LEFT) / chart.width
        sy = height / chart.height
        ops = [b"q 0.82 0.84 0.87 RG 0.5 w %.2f %.2f %.2f %.2f re S" % (
            LEFT, bottom, RIGHT - LEFT, height)]
        for x, _day in chart.ticks:
            ops.append(b"0.92 0.93 0.95 RG %.2f %.2f m %.2f %.2f l S" % (
                LEFT + x * sx, bottom, LEFT + x * sx, top))
        ops.append(b"0.81 0.13 0.18 RG 0.8 w [3 2] 0 d")
        for x, _label in chart.marks:
            ops.append(b"%.2f %.2f m %.2f %.2f l S" % (LEFT + x * sx, bottom, LEFT + x * sx, top))
        ops.append(b"[] 0 d 0.04 0.41 0.85 RG 1.2 w")
        for segment in chart.segments:
            path = [b"%.2f %.2f %s" % (LEFT + x * sx, top - y * sy, b"m" if i == 0 else b"l")
                    for i, (x, y) in enumerate(segment)]
            if len(path) > 1:
                ops.append(b" ".join(path) + b" S")
        ops.append(b"Q")
        self.ops.extend(ops)
        self.text(LEFT - 28, top - 4, "100%", 7)
        self.text(LEFT - 20, bottom, "0%", 7)
        for (x, _day), label in zip(chart.ticks, labels, strict=False):
            self.text(LEFT + x * sx + 2, bottom - 10, label, 7)
        self.y = bottom - 16


def build_pdf(title: str, blocks: Sequence[Block], footer: str) -> bytes:
    """Lay the blocks out on A4 pages; every page carries ``footer`` and its number."""
    layout = _Layout()
    layout.para(title, 16, "F2", after=8)
    for block in blocks:
        if block.kind == "h":
            layout.y -= 6
            layout.para(block.text, 12, "F2")
        elif block.kind == "p":
            layout.para(block.text)
        elif block.kind == "small":
            layout.para(block.text, 8.5)
        elif block.kind == "table":
            layout.table(block.rows, block.widths)
        elif block.kind == "chart" and block.chart is not None:
            layout.chart(block.chart, block.labels)
    writer = PdfFileWriter()
    fonts = generic.DictionaryObject({
        generic.NameObject(f"/{name}"): writer.add_object(generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject(base),
            generic.NameObject("/Encoding"): generic.NameObject("/WinAnsiEncoding"),
        })) for name, base in (("F1", "/Helvetica"), ("F2", "/Helvetica-Bold"))})
    count = len(layout.pages)
    for number, ops in enumerate(layout.pages, start=1):
        layout.ops = ops
        layout.text(LEFT, 35, f"{footer} - {number}/{count}", 7.5)
        stream = generic.StreamObject(stream_data=b"\n".join(ops))
        stream.compress()
        page = PageObject(
            contents=writer.add_object(stream),
            resources=generic.DictionaryObject({generic.NameObject("/Font"): fonts}),
            media_box=generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, *A4)]))
        writer.insert_page(page)
    writer.set_info(generic.DictionaryObject({
        generic.NameObject("/Title"): generic.TextStringObject(title[:200])}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
