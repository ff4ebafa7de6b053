"""Synthetic probes: timed HTTP transactions against a stamping-like service.

A pure package: no database, no web framework. Callers pass an :class:`httpx.AsyncClient`
and a :class:`ProbeSpec` to :func:`run_probe` and get a :class:`ProbeResult` back; the
scheduling, storage and status evaluation live in ``statuspage``. Remote agents hand their
results to an :class:`HttpResultSink`.
"""

from probes.memory import ProbeMemory
from probes.reference import reference_pdf
from probes.result import MAX_MILLIS, OUTCOMES, ProbeResult
from probes.runner import run_probe
from probes.sink import HttpResultSink, ResultSink
from probes.spec import PROBE_KINDS, ProbeSpec

__all__ = [
    "MAX_MILLIS",
    "OUTCOMES",
    "PROBE_KINDS",
    "HttpResultSink",
    "ProbeMemory",
    "ProbeResult",
    "ProbeSpec",
    "ResultSink",
    "reference_pdf",
    "run_probe",
]
