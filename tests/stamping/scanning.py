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

__all__ = ["decode_qr", "render_page", "require_tool"]


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
