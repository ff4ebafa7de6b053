"""The refusal of an uploaded document (picklable, raised inside the signing workers)."""

from __future__ import annotations

__all__ = ["DocumentError"]


class DocumentError(Exception):
    """An uploaded document the service refuses: ``code`` is a stable machine name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
