"""Bounded, cycle-checked walks of an untrusted PDF's object graph.

A PDF is a graph, not a tree: ``/Parent`` chains, ``/Kids`` arrays and indirect references
can loop back on themselves.  pyHanko follows some of these chains without a cycle check
(its inherited-attribute lookup walks ``/Parent`` until a key is found), so a 400-byte file
could hold a signing worker at 100% CPU forever (issue 8).  Every walk here keeps the set of
references seen and a depth limit, and refuses the document with :class:`DocumentError`
before pyHanko ever follows the chain.  The signing worker's CPU deadline is the second line
of defence for what no walk here covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping.document_error import DocumentError

__all__ = ["MAX_DEPTH", "MAX_NODES", "check_structure", "inherited", "mediabox"]

#: Deepest ``/Parent`` chain or ``/Kids`` nesting accepted.  Real page trees are balanced
#: (a few levels); real form field hierarchies are a handful of levels deep.
MAX_DEPTH = 64
#: Most page-tree or form-field nodes walked; more is not a document a person stamps.
MAX_NODES = 100_000
#: The largest page side in points (PDF 1.7 Annex C: 14,400 units of default user space).
MAX_PAGE_SIDE = 14_400.0
#: The smallest page side in points (PDF 1.7 Annex C: 3 units).
MIN_PAGE_SIDE = 3.0


def _refuse(message: str) -> DocumentError:
    return DocumentError("corrupt_pdf", message)


def _key(obj: object) -> tuple[int, int] | None:
    """The (object number, generation) of an indirect object, else None."""
    if isinstance(obj, generic.IndirectObject):
        return obj.reference.idnum, obj.reference.generation
    return None


def resolve(obj: object) -> generic.PdfObject:
    """Follow indirect references, refusing a chain of references that loops or never ends."""
    seen: set[tuple[int, int]] = set()
    while isinstance(obj, generic.IndirectObject):
        key = _key(obj)
        assert key is not None
        if key in seen or len(seen) >= MAX_DEPTH:
            raise _refuse("an object of the PDF refers to itself")
        seen.add(key)
        obj = obj.get_pdf_handler().get_object(obj.reference)
    assert isinstance(obj, generic.PdfObject)
    return obj


def _parents(node: generic.DictionaryObject) -> Iterator[generic.DictionaryObject]:
    """``node`` and its ``/Parent`` ancestors, with a cycle check and a depth limit."""
    seen: set[tuple[int, int] | int] = {id(node)}
    current: generic.PdfObject | None = node
    depth = 0
    while isinstance(current, generic.DictionaryObject):
        depth += 1
        if depth > MAX_DEPTH:
            raise _refuse(f"the PDF's /Parent chain is deeper than {MAX_DEPTH}")
        yield current
        if "/Parent" not in current:
            return
        raw = current.raw_get("/Parent")
        current = resolve(raw)
        marker = _key(raw) or id(current)
        if marker in seen or id(current) in seen:
            raise _refuse("the PDF's /Parent chain loops back on itself")
        seen.update((marker, id(current)))


def inherited(node: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """An inheritable attribute (``/MediaBox``, ``/Resources``...): the first ancestor's."""
    for ancestor in _parents(node):
        if key in ancestor:
            return resolve(ancestor.raw_get(key))
    return None


def mediabox(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    """The page's (inherited) ``/MediaBox`` as ``(llx, lly, urx, ury)``, normalised.

    A page without one is A4 (the service's default); a box that is not four finite
    numbers, or whose sides are outside 3..14,400 points, is refused.
    """
    box = inherited(page, "/MediaBox")
    if box is None:
        return 0.0, 0.0, 595.0, 842.0
    if not isinstance(box, generic.ArrayObject) or len(box) != 4:
        raise _refuse("the page's /MediaBox is not four numbers")
    values: list[float] = []
    for item in box:
        number = resolve(item)
        if not isinstance(number, generic.NumberObject | generic.FloatObject) \
                or isinstance(number, bool):
            raise _refuse("the page's /MediaBox is not four numbers")
        value = float(number)
        if not math.isfinite(value) or abs(value) > 10 * MAX_PAGE_SIDE:
            raise _refuse("the page's /MediaBox holds an impossible number")
        values.append(value)
    llx, urx = sorted(values[0::2])
    lly, ury = sorted(values[1::2])
    for side in (urx - llx, ury - lly):
        if not MIN_PAGE_SIDE <= side <= MAX_PAGE_SIDE:
            raise _refuse(f"the page's /MediaBox gives a side of {side:g} points "
                          f"(a page is {MIN_PAGE_SIDE:g} to {MAX_PAGE_SIDE:g})")
    return llx, lly, urx, ury


def _walk_tree(root: generic.PdfObject, what: str) -> int:
    """Visit a ``/Kids`` tree depth-first; check each node's ``/Parent`` chain; count nodes."""
    seen: set[tuple[int, int] | int] = set()
    stack: list[tuple[generic.PdfObject, int]] = [(root, 0)]
    count = 0
    while stack:
        raw, depth = stack.pop()
        key = _key(raw)
        node = resolve(raw)
        marker: tuple[int, int] | int = key if key is not None else id(node)
        if marker in seen:
            raise _refuse(f"the PDF's {what} loops back on itself")
        seen.add(marker)
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            raise _refuse(f"the PDF's {what} is too deep or too large")
        if not isinstance(node, generic.DictionaryObject):
            continue
        for _ in _parents(node):  # pyHanko follows /Parent without a cycle check
            pass
        if "/Kids" in node:
            kids = resolve(node.raw_get("/Kids"))
            if not isinstance(kids, generic.ArrayObject):
                raise _refuse(f"the PDF's {what} has a /Kids that is not an array")
            stack.extend((kid, depth + 1) for kid in kids)
    return count


def check_structure(reader: PdfFileReader) -> None:
    """Refuse a document whose page tree or form fields loop, nest too deep or are too big.

    Walks the page tree from ``/Root /Pages`` and the form fields from ``/AcroForm
    /Fields``, and every ``/Parent`` chain on the way, so that pyHanko's own unchecked walks
    only ever see finite, acyclic chains.  Unreadable objects on the way refuse the document.
    """
    try:
        _check_structure(reader)
    except DocumentError:
        raise
    except Exception as exc:  # the parser raises many types for malformed objects
        raise _refuse(f"the PDF's structure cannot be read: {exc}") from None


def _check_structure(reader: PdfFileReader) -> None:
    root = resolve(reader.trailer.raw_get("/Root"))
    if not isinstance(root, generic.DictionaryObject) or "/Pages" not in root:
        raise _refuse("the PDF has no page tree")
    _walk_tree(root.raw_get("/Pages"), "page tree")
    if "/AcroForm" in root:
        form = resolve(root.raw_get("/AcroForm"))
        if isinstance(form, generic.DictionaryObject) and "/Fields" in form:
            fields = resolve(form.raw_get("/Fields"))
            if isinstance(fields, generic.ArrayObject):
                seen_fields = 0
                for field in fields:
                    seen_fields += _walk_tree(field, "form field tree")
                    if seen_fields > MAX_NODES:
                        raise _refuse("the PDF has too many form fields")
