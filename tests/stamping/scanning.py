"""Read a stamped PDF as people do: render with poppler's pdftoppm, decode with zbarimg.

Without the tools (Debian poppler-utils, zbar-tools) the tests skip on a laptop and fail
under CI (``CI`` set), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["decode_qr", "render_page", "require_tool", "stamp_pixels"]


def require_tool(name: str) -> str:
    """The executable's path, or skip (fail under CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required under CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return path


def render_page(pdf: bytes, tmp: Path, dpi: int = 100, page: int = 1) -> Path:
    """One page rendered as a PNG, as a 100 dpi scan would see it."""
    src = tmp / "stamped.pdf"
    src.write_bytes(pdf)
    subprocess.run([require_tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page),
                    "-png", "-singlefile", str(src), str(tmp / "page")], check=True,
                   timeout=60)
    return tmp / "page.png"


def decode_qr(png: Path) -> list[str]:
    """Every QR code zbarimg finds in the image (empty when none decodes)."""
    done = subprocess.run([require_tool("zbarimg"), "-q", "--raw", "-Sdisable",
                           "-Sqrcode.enable", str(png)], capture_output=True, text=True,
                          timeout=60, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()]


def stamp_pixels(pdf: bytes, tmp: Path, dpi: int = 100) -> tuple[tuple[int, int, int, int],
                                                                   tuple[int, int], float]:
    """Where the stamp shows on the rendered page: (pink bounding box x0, y0, x1, y1 in
    pixels from the top left, (page width, height) in pixels, mean x of the dark pixels
    inside the box as a fraction of its width).  The QR sits left of the design when the
    stamp is upright."""
    src = tmp / "stamped.pdf"
    src.write_bytes(pdf)
    subprocess.run([require_tool("pdftoppm"), "-r", str(dpi), "-f", "1", "-l", "1",
                    "-singlefile", str(src), str(tmp / "page")], check=True, timeout=60)
    raw = (tmp / "page.ppm").read_bytes()
    magic, width, height, _, pixels = raw.split(maxsplit=4)
    assert magic == b"P6"
    w, h = int(width), int(height)
    xs, ys = [], []
    for y in range(h):
        row = pixels[y * w * 3:(y + 1) * w * 3]
        for x in range(0, w * 3, 3):
            if row[x] > 170 and row[x + 1] < 110 and row[x + 2] > 70:  # stamp pink
                xs.append(x // 3)
                ys.append(y)
    assert xs, "no pink stamp on the page"
    box = (min(xs), min(ys), max(xs), max(ys))
    dark = [x for y in range(box[1], box[3] + 1) for x in range(box[0], box[2] + 1)
            if max(pixels[(y * w + x) * 3:(y * w + x) * 3 + 3]) < 60]
    mean = (sum(dark) / len(dark) - box[0]) / max(1, box[2] - box[0]) if dark else 0.5
    return box, (w, h), mean
