"""What probes remember between runs, held by the caller and passed to every run.

A probe run that stamps or validates needs the target's CA certificate, and the ``verify``
kind needs a document stamped once; fetching or stamping them on every run would measure (and
load) the service for nothing. The caller that schedules runs keeps one :class:`ProbeMemory`
for as long as its targets live (``statuspage.jobs`` keeps one per job table) and hands it to
:func:`probes.run_probe`; a run without one starts from nothing. No module-level state: two
schedulers in one process never share what they remember.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from asn1crypto import x509 as asn1_x509

__all__ = ["BoundedCache", "ProbeMemory"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A small LRU map; probes run for months against a handful of targets."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value``; the least recently used entry goes when the map is full."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def drop(self, key: K) -> None:
        """Forget ``key`` (if present)."""
        self._items.pop(key, None)


class ProbeMemory:
    """Per-target caches shared by the runs of one scheduler.

    ``ca``: each target's CA certificate (a CA changes only when a service is re-created, and
    a cached CA that no longer validates is re-fetched once before a signature is called
    untrusted). ``documents``: a document stamped once per (target, token) for the verify
    kind, with its serial.
    """

    def __init__(self, size: int = 64) -> None:
        self.ca: BoundedCache[str, asn1_x509.Certificate] = BoundedCache(size)
        self.documents: BoundedCache[tuple[str, str | None], tuple[bytes, str]] = (
            BoundedCache(size))
