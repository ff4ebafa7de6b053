"""A page's resources as the content scan reads them: leniently, and bounded.

``lenient_get`` reads a dictionary entry that may be missing or dangle; ``inherited_resources``
finds the page's ``/Resources`` (its own or its nearest ancestor's, a cycle-checked, bounded
walk); ``load_font`` reads the glyph widths that text is measured with: a simple font's
``/Widths`` (256 at most), a Type0 font's default width and, for Identity encodings, its ``/W``
array (:data:`MAX_CID_WIDTHS` entries at most).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import generic

__all__ = ["MAX_CID_WIDTHS", "Font", "inherited_resources", "lenient_get", "load_font"]

#: Most CID widths read from a Type0 font's /W array.
MAX_CID_WIDTHS = 65_536


def lenient_get(obj: object, key: str, default: Any = None) -> Any:
    """``obj[key]`` resolved, or ``default`` when ``obj`` is not a dictionary or lacks it."""
    if isinstance(obj, generic.DictionaryObject) and key in obj:
        try:
            return obj[key]
        except Exception:  # a dangling reference reads as absent
            return default
    return default


@dataclass
class Font:
    """Glyph widths of one font, in thousandths of an em."""

    first: int = 0
    widths: list[float] = field(default_factory=list)
    default: float = 600.0
    two_byte: bool = False
    cid_widths: dict[int, float] = field(default_factory=dict)  # Identity-encoded Type0


def _cid_widths(w: object) -> dict[int, float]:
    """A Type0 font's /W array: ``c [w1 w2 ...]`` and ``c_first c_last w`` entries."""
    widths: dict[int, float] = {}
    if not isinstance(w, generic.ArrayObject):
        return widths
    items = [w[i] for i in range(min(len(w), MAX_CID_WIDTHS))]
    i = 0
    while i + 1 < len(items) and len(widths) < MAX_CID_WIDTHS:
        first, nxt = int(items[i]), items[i + 1]
        if isinstance(nxt, generic.ArrayObject):
            for j in range(min(len(nxt), MAX_CID_WIDTHS - len(widths))):
                widths[first + j] = float(nxt[j])
            i += 2
        elif i + 2 < len(items):
            last, width = int(nxt), float(items[i + 2])
            for cid in range(first, min(last, first + MAX_CID_WIDTHS - len(widths)) + 1):
                widths[cid] = width
            i += 3
        else:
            break
    return widths


def load_font(resources: generic.DictionaryObject, name: str, cache: dict[int, Font]) -> Font:
    """The widths of font ``name`` of ``resources``; ``cache`` keeps the fonts already read
    (by object identity).  A broken font dictionary measures as the default font."""
    try:
        ref = resources["/Font"].raw_get(name)
        key = id(ref.get_object() if isinstance(ref, generic.IndirectObject) else ref)
        if key in cache:
            return cache[key]
        fd = resources["/Font"][name]
        font = Font()
        if lenient_get(fd, "/Subtype") == "/Type0":
            font.two_byte, font.default = True, 1000.0
            descendant = lenient_get(fd, "/DescendantFonts")[0]
            font.default = float(lenient_get(descendant, "/DW", 1000))
            if lenient_get(fd, "/Encoding") in ("/Identity-H", "/Identity-V"):
                font.cid_widths = _cid_widths(lenient_get(descendant, "/W"))
        elif "/Widths" in fd:
            font.first = int(lenient_get(fd, "/FirstChar", 0))
            font.widths = [float(w) for w in fd["/Widths"]][:256]
            desc = lenient_get(fd, "/FontDescriptor")
            font.default = float(lenient_get(desc, "/MissingWidth", 600)) if desc else 600.0
        cache[key] = font
        return font
    except Exception:  # a broken font dictionary: measure conservatively
        return Font()


def inherited_resources(page: generic.DictionaryObject) -> generic.DictionaryObject:
    """``/Resources`` of the page or its nearest ancestor (a cycle-checked, bounded walk)."""
    node: object = page
    seen: set[int] = set()
    while isinstance(node, generic.DictionaryObject) and id(node) not in seen and len(seen) < 64:
        seen.add(id(node))
        if "/Resources" in node:
            found = node["/Resources"]
            if isinstance(found, generic.DictionaryObject):
                return found
            break
        node = lenient_get(node, "/Parent")
    return generic.DictionaryObject()
