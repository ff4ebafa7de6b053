"""The visible stamp: opaque, recognisable, marked SIMULASI, and a QR that scans at 100 dpi.

Stamped pages are rendered with pdftoppm at 100 dpi (a common scan setting) and decoded
with zbarimg, as an official checking a printed application would.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from starlette.testclient import TestClient

from stamping.appearance import (
    AMOUNT,
    AMOUNT_WORDS,
    FONT_NAME,
    MIN_MODULE,
    SIMULATION_MARK,
    StampTooSmall,
    font_resource,
    render_stamp,
    stamp_layout,
)
from tests.stamping.conftest import auth, buy, pdf_file, register
from tests.stamping.scan_pdfs import KINDS, SIZES, scanned
from tests.stamping.scanning import decode_qr, render_page, stamp_pixels

SERIAL = "ABCDEFGHJKLMNPQRSTUVWX"
URL = f"http://127.0.0.1:8001/verify/{SERIAL}"
_N = generic.NameObject


def _page_with_stamp(width: float, height: float, url: str, x: float, y: float) -> bytes:
    """An A4 page showing the stamp content at (x, y), without signing."""
    w = PdfFileWriter()
    content = render_stamp(stamp_layout(width, height, url), SERIAL)
    form = generic.StreamObject({
        _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Form"),
        _N("/BBox"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, width,
                                                                            height)]),
        _N("/Resources"): generic.DictionaryObject({_N("/Font"): generic.DictionaryObject(
            {_N(FONT_NAME): font_resource()})})}, stream_data=content)
    resources = generic.DictionaryObject({_N("/XObject"): generic.DictionaryObject(
        {_N("/St"): w.add_object(form)})})
    page = b"q 1 0 0 1 %.3f %.3f cm /St Do Q" % (x, y)
    w.insert_page(PageObject(contents=w.add_object(generic.StreamObject(stream_data=page)),
                             resources=resources, media_box=generic.ArrayObject(
                                 [generic.FloatObject(v) for v in (0, 0, 595.28, 841.89)])))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("width", "height"), [(170, 100), (100, 100), (120, 170), (300, 140),
                                                (90, 90)])
@pytest.mark.parametrize("url", [URL, f"https://meterai-simulasi.example.go.id:8443/verify/"
                                      f"{SERIAL}"])
def test_every_layout_scans_at_100_dpi(width: float, height: float, url: str,
                                       tmp_path: Path) -> None:
    try:
        layout = stamp_layout(width, height, url)
    except StampTooSmall as exc:
        # Only a box that really cannot hold modules of MIN_MODULE points is refused.
        assert "at least" in str(exc)
        assert min(width, height) <= 100
        return
    assert layout.module >= MIN_MODULE
    # Sub-pixel positions matter at 100 dpi: try a few.
    for x, y in ((300.0, 200.0), (301.37, 203.71), (302.85, 201.2)):
        png = render_page(_page_with_stamp(width, height, url, x, y), tmp_path)
        assert decode_qr(png) == [url], (width, height, x, y, layout.level, layout.module)


def test_design_carries_the_words_the_serial_and_the_simulation_mark() -> None:
    for width, height in ((170, 100), (100, 100)):
        content = render_stamp(stamp_layout(width, height, URL), SERIAL)
        for words in ("METERAI", "ELEKTRONIK", AMOUNT, AMOUNT_WORDS, SIMULATION_MARK):
            assert f"({words}" in content.decode() or f" {words}" in content.decode()
        assert SERIAL[:11] in content.decode() and SERIAL[11:] in content.decode()
        # Opaque: the first thing painted is a white rectangle over the whole stamp.
        assert f"1.000 1.000 1.000 rg 0.00 0.00 {width:.2f} {height:.2f} re f" in \
            content.decode()
        assert b"0.860 0.090 0.470 rg" in content  # pink


@pytest.mark.parametrize("url", [URL, "https://meterai-simulasi.example.go.id:8443/verify/"
                                      + SERIAL])
def test_a_box_too_small_for_a_readable_qr_is_refused_with_the_minimum(url: str) -> None:
    with pytest.raises(StampTooSmall, match=r"at least \d+ x \d+ pt") as refused:
        stamp_layout(60, 60, url)
    # The sizes the message suggests are enough.
    found = re.search(r"(\d+) x (\d+) pt \(or (\d+) pt square\)", str(refused.value))
    assert found is not None
    wide_w, wide_h, square = (int(v) for v in found.groups())
    assert stamp_layout(wide_w, wide_h, url).module >= MIN_MODULE
    assert stamp_layout(square, square, url).module >= MIN_MODULE


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # rendering, not storage
def test_stamped_pages_scan_at_100_dpi(client: TestClient, tmp_path: Path) -> None:
    """A letter, a page of text to the margins and a scan; A4 and Letter, both ways up.

    Each stamped page is rendered at 100 dpi, its QR decoded, and the decoded URL answers
    200 on the service.
    """
    token = register(client)
    buy(client, token, len(KINDS) * len(SIZES))
    failures = []
    for kind, build in KINDS.items():
        for size_name, size in SIZES.items():
            r = client.post("/api/v1/stamps", headers=auth(token), files=pdf_file(build(size)))
            assert r.status_code == 201, (kind, size_name, r.text)
            serial = r.headers["x-serial-number"]
            decoded = decode_qr(render_page(r.content, tmp_path))
            expected = f"http://stamping.test/verify/{serial}"
            if decoded != [expected]:
                failures.append((kind, size_name, decoded, r.headers["x-stamp-box"]))
                continue
            assert client.get(expected.removeprefix("http://stamping.test")).status_code == 200
            overlap = r.headers["x-stamp-overlap"]
            # Blank space is found on the letter; the other pages have none, and say so.
            assert overlap == {"letter": "none", "full-text": "text",
                               "scanned": "image"}[kind], (kind, size_name, overlap)
            status = client.get(f"/api/v1/stamps/{serial}", headers=auth(token)).json()
            assert status["placement"]["auto"] is True
            assert (", ".join(status["placement"]["overlaps"]) or "none") == overlap
    assert failures == []


def test_a_client_box_over_text_is_stamped_and_reported(client: TestClient) -> None:
    token = register(client)
    buy(client, token, 2)
    doc = KINDS["letter"](SIZES["a4-portrait"])
    # Over the letter's paragraphs: stamped anyway, and the client is told.
    r = client.post("/api/v1/stamps", headers=auth(token), files=pdf_file(doc),
                    data={"box": "72,600,242,700"})
    assert r.status_code == 201, r.text
    assert r.headers["x-stamp-overlap"] == "text"
    assert r.headers["x-stamp-box"] == "72,600,242,700"
    status = client.get(f"/api/v1/stamps/{r.headers['x-serial-number']}",
                        headers=auth(token)).json()
    assert status["placement"] == {"box": [72, 600, 242, 700], "auto": False,
                                   "overlaps": ["text"]}
    # On blank space: nothing covered.
    r = client.post("/api/v1/stamps", headers=auth(token), files=pdf_file(doc),
                    data={"box": "72,40,242,140"})
    assert r.status_code == 201 and r.headers["x-stamp-overlap"] == "none"
    reader = PdfFileReader(io.BytesIO(r.content))
    widget = reader.embedded_signatures[0].sig_field
    assert [round(float(v)) for v in widget["/Rect"]] == [72, 40, 242, 140]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rotated_pages_get_an_upright_stamp_at_the_visual_bottom_right(
        client: TestClient, tmp_path: Path) -> None:
    """Scanners turn landscape pages with /Rotate: the stamp must read upright there too."""
    token = register(client)
    buy(client, token, 4)
    for rotate in (0, 90, 180, 270):
        doc = KINDS["scanned"](SIZES["a4-portrait"]) if rotate == 0 else \
            scanned(SIZES["a4-portrait"], rotate)
        r = client.post("/api/v1/stamps", headers=auth(token), files=pdf_file(doc))
        assert r.status_code == 201, r.text
        serial = r.headers["x-serial-number"]
        assert decode_qr(render_page(r.content, tmp_path)) == [
            f"http://stamping.test/verify/{serial}"], rotate
        (x0, y0, x1, y1), (w, h), qr_at = stamp_pixels(r.content, tmp_path)
        assert x1 - x0 > y1 - y0, (rotate, "the stamp is not upright (wide)")
        assert qr_at < 0.5, (rotate, "the QR is not on the left: the stamp is upside down")
        assert x1 > 0.75 * w and y1 > 0.8 * h, (rotate, "not at the bottom right", x1, y1, w, h)
