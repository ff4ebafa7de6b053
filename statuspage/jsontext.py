"""HTML-safe JSON text: the one encoder of every JSON body the status page sends.

``<``, ``>`` and ``&`` only occur inside JSON strings, where ``\\u`` escapes mean the same
characters: the JSON parses to the same values, and a consumer that pastes a value into
``innerHTML`` or a ``<script>`` block gets inert text (probe messages and incident bodies quote
whatever a failing service or an operator wrote).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["html_safe_json"]


def html_safe_json(payload: Any) -> str:
    """Compact JSON (UTF-8 kept as is) with ``<``, ``>`` and ``&`` written as ``\\u`` escapes."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
