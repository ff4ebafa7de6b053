"""The content-stream lexer: operands decoded, malformed input tolerated, nesting bounded."""

from __future__ import annotations

import pytest

from stamping.content_stream import MAX_ARRAY_DEPTH, ContentTooDeep, operations


@pytest.mark.parametrize(("data", "expected"), [
    (b"1 0 0 1 72.5 -.5 cm", [(b"cm", [1.0, 0.0, 0.0, 1.0, 72.5, -0.5])]),
    (b"/F1 12 Tf", [(b"Tf", ["/F1", 12.0])]),
    (b"(a\\(b\\)c \\101\\\nd) Tj", [(b"Tj", [b"a(b)c Ad"])]),
    (b"(nested (paren) ok) Tj", [(b"Tj", [b"nested (paren) ok"])]),
    (b"<48 65 6C6C 6F7> Tj", [(b"Tj", [b"Hello\x70"])]),
    (b"[(A) -250 (B)] TJ", [(b"TJ", [[b"A", -250.0, b"B"]])]),
    (b"/P <</MCID 3>> BDC EMC", [(b"BDC", ["/P", None, "/MCID", 3.0, None]), (b"EMC", [])]),
    (b"% a comment\nq Q", [(b"q", []), (b"Q", [])]),
    (b"BI /W 2 /H 1 ID \x00EI\xff EI Q", [(b"BI", []), (b"Q", [])]),  # image data skipped
    (b"(never closed Tj", []),
    (b"\xff\xfe garbage } { 1 re", [(b"garbage", []), (b"re", [1.0])]),
])
def test_operations(data: bytes, expected: list[tuple[bytes, list[object]]]) -> None:
    assert list(operations(data)) == expected


def test_array_nesting_is_bounded() -> None:
    with pytest.raises(ContentTooDeep):
        list(operations(b"[" * (MAX_ARRAY_DEPTH + 1)))
