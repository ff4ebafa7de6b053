"""The signing worker processes: their state, start-up and the CPU deadline of each job.

pyHanko is bound by the interpreter lock, so the web process hands every document to a
``ProcessPoolExecutor`` (``stamping.pool``) whose initializer (:func:`init_worker`) loads the
signing key and certificates once per worker.  Each job runs through :func:`run_job`, under a
CPU deadline; the jobs themselves are ``stamping.signer.stamp_document`` and
``stamping.verifier.verify_document``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign import signers
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from stamping import lifeline
from stamping.appearance import meterai_style
from stamping.document_error import DocumentError

__all__ = ["WorkerState", "init_worker", "ping", "require_state", "run_job"]

logger = logging.getLogger(__name__)


class _PreloadedSigner(signers.SimpleSigner):
    """A SimpleSigner that keeps the parsed private key instead of reloading it per signature."""

    def __init__(self, cert: asn1_x509.Certificate, key_pem: bytes,
                 registry: SimpleCertificateStore) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        info = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        )
        super().__init__(signing_cert=cert, signing_key=info, cert_registry=registry)
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign with the key parsed once at start-up (ECDSA only)."""
        return self._key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))


@dataclass
class WorkerState:
    """What a worker process keeps between jobs: the signer, the CA, the stamp style, its
    event loop and the CPU deadline of a job."""

    signer: _PreloadedSigner
    ca: asn1_x509.Certificate
    style: BaseStampStyle
    loop: asyncio.AbstractEventLoop
    cpu_deadline: float


_state: WorkerState | None = None  # one per worker process, set by init_worker


def _load_cert(path: Path) -> asn1_x509.Certificate:
    cert = cx509.load_pem_x509_certificate(path.read_bytes())
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def init_worker(signer_cert: str, signer_key: str, ca_cert: str, niceness: int = 0,
                cpu_deadline: float = 0.0) -> None:
    """Load the signing key and certificates once in this worker process.

    ``cpu_deadline`` (seconds, 0 = none) bounds the CPU time of each job: past it the job
    stops with DocumentError ``too_complex`` and the worker takes the next one.
    """
    global _state
    # Forked by the forkserver, which recorded its pid before forking (None elsewhere).
    forkserver = sys.modules.get("stamping.forkserver_lifeline")
    lifeline.die_with_parent(getattr(forkserver, "FORKSERVER_PID", None))
    # Signing is throughput work; the web process is latency work (admission, 503s, commits).
    # A lower priority lets the web process preempt the signers when the CPUs are saturated.
    try:
        if niceness:
            os.nice(niceness)
    except OSError:  # not permitted: run at normal priority
        logger.warning("could not lower the signing worker's priority")
    ca = _load_cert(Path(ca_cert))
    cert = _load_cert(Path(signer_cert))
    registry = SimpleCertificateStore.from_certs([ca])
    signer = _PreloadedSigner(cert, Path(signer_key).read_bytes(), registry)
    style = meterai_style()
    # One event loop per worker: pyHanko's signing API is async, and asyncio.run per
    # document would build and tear down a loop each time.
    _state = WorkerState(signer=signer, ca=ca, style=style, loop=asyncio.new_event_loop(),
                          cpu_deadline=cpu_deadline)
    signal.signal(signal.SIGPROF, _on_deadline)


def ping() -> int:
    """Used to start workers ahead of traffic: returns the worker's pid once its key is loaded."""
    require_state()
    return os.getpid()


class _DeadlinePassed(BaseException):
    """Raised by the CPU timer inside a job.

    A BaseException, so that pyHanko's broad ``except Exception`` handlers let it through.
    """


def _on_deadline(signum: int, frame: object) -> None:
    raise _DeadlinePassed


_T = TypeVar("_T")
_A = TypeVar("_A")


def run_job(fn: Callable[[_A], _T], arg: _A) -> _T:
    """Run one job of the pool under the worker's CPU deadline (ITIMER_PROF: user + system).

    CPU time rather than wall time: a worker starved by a busy machine is not at fault,
    while a job spinning in a loop is stopped however idle the machine is.  A job stuck
    without using CPU, or in C code that never returns to the interpreter, is the web
    process's job: it kills the worker at the wall-clock deadline (``pool.py``).
    """
    state = require_state()
    seconds = state.cpu_deadline
    try:
        if seconds > 0:
            signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            return fn(arg)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    except _DeadlinePassed:
        # The loop may have been interrupted mid-step: start the next job on a fresh one.
        state.loop = asyncio.new_event_loop()
        logger.warning("job stopped at its CPU deadline (%.1f s)", seconds)
        raise DocumentError(
            "too_complex", f"the document needs more than {seconds:g} s of processing; "
                           "it is refused (nothing was spent)") from None


def require_state() -> WorkerState:
    """This worker's state; RuntimeError when ``init_worker`` has not run in this process."""
    if _state is None:
        raise RuntimeError("init_worker was not called in this process")
    return _state
