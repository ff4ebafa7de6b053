"""The exception a probe step raises; :func:`probes.run_probe` turns it into a result."""

from __future__ import annotations

__all__ = ["ProbeFailure"]


class ProbeFailure(Exception):
    """A step found the service wrong or unavailable: ``error_class`` is a short stable name."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(error_class, message)
        self.error_class = error_class
        self.message = message

    def __str__(self) -> str:
        return f"{self.error_class}: {self.message}"
