"""External tools some tests need (pdfsig, certutil, qpdf, chromium).

A missing tool skips the test on a laptop and fails it under CI (``CI`` set), where
``.ci/run`` installs every one of them. A test names every tool it runs, so a half-installed
machine (pdfsig without certutil) skips instead of failing with the tool's own error.
"""

from __future__ import annotations

import os
import shutil

import pytest

#: The Debian package that provides each tool (named in the skip message).
PACKAGES = {"pdfsig": "poppler-utils", "qpdf": "qpdf", "certutil": "libnss3-tools",
            "chromium": "chromium"}

__all__ = ["PACKAGES", "require_tools"]


def require_tools(*names: str) -> dict[str, str]:
    """The path of each tool; skip the test (fail under CI) when any is missing."""
    found = {name: shutil.which(name) for name in names}
    missing = [f"{name} ({PACKAGES.get(name, name)})" for name, path in found.items()
               if path is None]
    if missing:
        message = "missing tools: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    return {name: str(path) for name, path in found.items()}
