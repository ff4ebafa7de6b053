"""PDF stamping and verification, run inside the signing worker processes.

pyHanko is bound by the interpreter lock, so the web process hands every document to a
``ProcessPoolExecutor`` whose initializer (:func:`init_worker`) loads the signing key and
certificates once per worker.  The functions here are plain and synchronous: they take bytes
and simple values and return picklable results, or raise :class:`DocumentError` (also
picklable) for input the service must refuse with a 4xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfDecodeLimitError, PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from stamping import lifeline, pdfwalk
from stamping.appearance import add_link, meterai_style
from stamping.document_error import DocumentError
from stamping.placement import PlacementError, plan_stamp

__all__ = [
    "DocumentError",
    "StampJob",
    "StampOutput",
    "VerifyOutput",
    "init_worker",
    "parse_box",
    "ping",
    "run_job",
    "stamp_document",
    "verify_document",
]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: Decoding limits for untrusted uploads.  A single Deflate layer expands at most ~1032:1,
#: so the ratio limit alone lets a 10 MB upload inflate to 10 GB; the absolute caps are what
#: stop a bomb.  Real one-page forms decode to well under a megabyte.
DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_ratio=1100, ratio_floor=MiB, max_output_size=32 * MiB),
    document_budget=DocumentDecodeBudget(base_allowance=64 * MiB, max_ratio=20),
)
#: Signature space reserved up front so pyHanko skips its dummy signing pass.  An ECDSA
#: CMS blob with the two-certificate chain and PAdES attributes is about 1.3 KB.
BYTES_RESERVED = 6144
FIELD_PREFIX = "Meterai_"


@dataclass(frozen=True)
class StampJob:
    """Everything a worker needs to stamp one document."""

    pdf: bytes
    serial: str
    verify_url: str
    page: int | None  # 1-based; None means the last page
    box: tuple[float, float, float, float] | None  # None: the service finds blank space


@dataclass(frozen=True)
class StampOutput:
    """A stamped document with the hashes the ledger records."""

    pdf: bytes
    sha256_before: str
    sha256_after: str
    #: where the stamp went and what it covers (:meth:`placement.Placement.as_dict`)
    placement: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyOutput:
    """The cryptographic half of a verification; the web process cross-checks the ledger."""

    found: bool
    serial: str | None = None
    intact: bool = False
    trusted: bool = False
    signed_at: str | None = None
    document_sha256: str | None = None
    whole_file: bool = False
    reasons: list[str] = field(default_factory=list)


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
class _WorkerState:
    signer: _PreloadedSigner
    ca: asn1_x509.Certificate
    style: BaseStampStyle
    loop: asyncio.AbstractEventLoop
    cpu_deadline: float


_state: _WorkerState | None = None  # one per worker process, set by init_worker


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
    lifeline.die_with_parent()
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
    _state = _WorkerState(signer=signer, ca=ca, style=style, loop=asyncio.new_event_loop(),
                          cpu_deadline=cpu_deadline)
    signal.signal(signal.SIGPROF, _on_deadline)


def ping() -> int:
    """Used to start workers ahead of traffic: returns the worker's pid once its key is loaded."""
    _require_state()
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
    state = _require_state()
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


def _require_state() -> _WorkerState:
    if _state is None:
        raise RuntimeError("init_worker was not called in this process")
    return _state


def parse_box(text: str) -> tuple[float, float, float, float]:
    """Parse ``"llx,lly,urx,ury"`` (points); raise DocumentError when malformed."""
    parts = text.split(",")
    try:
        llx, lly, urx, ury = (float(p) for p in parts)
    except ValueError:
        raise DocumentError(
            "bad_box", "box must be four numbers 'llx,lly,urx,ury' in points"
        ) from None
    if not (urx > llx and ury > lly):
        raise DocumentError("bad_box", "box must have urx > llx and ury > lly")
    if urx - llx < 20 or ury - lly < 20:
        raise DocumentError("bad_box", "box must be at least 20 x 20 points")
    return llx, lly, urx, ury


def _open(pdf: bytes) -> IncrementalPdfFileWriter:
    if not pdf.lstrip()[:5].startswith(b"%PDF-") and b"%PDF-" not in pdf[:1024]:
        raise DocumentError("not_pdf", "the file is not a PDF document")
    try:
        # Non-strict: real-world files (hybrid xref tables, small offset errors) must open.
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False,
                                          decode_limits=DECODE_LIMITS)
    except PdfError as exc:
        raise DocumentError("corrupt_pdf", f"the PDF cannot be read: {exc}") from None
    except Exception as exc:  # parser errors surface as many exception types
        raise DocumentError("corrupt_pdf", f"the PDF cannot be read: {exc}") from None
    if writer.prev.encrypted:
        raise DocumentError("encrypted_pdf",
                            "encrypted or password-protected PDFs cannot be stamped")
    return writer


def _check_streams(reader: PdfFileReader) -> None:
    """Decode every stream once under DECODE_LIMITS, so that a bomb is refused here.

    Streams pyHanko cannot decode (image codecs such as /DCTDecode) are skipped: pyHanko
    never expands them, so they cannot blow up.  Other decoding errors are tolerated too:
    signing appends an incremental update and never needs those streams, and viewers
    tolerate such files; only objects that cannot be parsed at all make the file corrupt.
    """
    refs: set[generic.Reference] = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
    for ref in sorted(refs, key=lambda r: (r.idnum, r.generation)):
        try:
            obj = ref.get_object()
        except Exception as exc:
            raise DocumentError("corrupt_pdf", f"the PDF cannot be read: {exc}") from None
        if not isinstance(obj, generic.StreamObject):
            continue
        try:
            obj.data  # noqa: B018 - decoding is the point
        except PdfDecodeLimitError:
            raise DocumentError(
                "decompression_bomb", "a stream in the PDF expands beyond the allowed size"
            ) from None
        except (NotImplementedError, PdfError) as exc:
            logger.debug("stream %s not decodable (%s); not needed for stamping", ref, exc)
        except Exception as exc:  # zlib.error, binascii.Error...: the bytes are damaged
            raise DocumentError(
                "corrupt_pdf", f"a compressed stream in the PDF is damaged ({exc})") from None


def _page_geometry(writer: IncrementalPdfFileWriter, page: int | None) -> tuple[int, list[float]]:
    try:
        count = int(writer.root["/Pages"]["/Count"])
    except Exception:
        raise DocumentError("corrupt_pdf", "the PDF has no readable page tree") from None
    if count < 1:
        raise DocumentError("corrupt_pdf", "the PDF has no pages")
    index = count - 1 if page is None else page - 1
    if not 0 <= index < count:
        raise DocumentError("bad_page", f"page {page} is outside the document (1..{count})")
    try:
        page_ref, _ = writer.find_page_for_modification(index)
        page_obj = pdfwalk.resolve(page_ref)
        if not isinstance(page_obj, generic.DictionaryObject):
            raise DocumentError("corrupt_pdf", "the page is not a dictionary")
        llx, lly, urx, ury = pdfwalk.mediabox(page_obj)  # bounded /Parent walk
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError("corrupt_pdf", f"the page tree cannot be read: {exc}") from None
    return index, [llx, lly, urx, ury]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stamp_document(job: StampJob) -> StampOutput:
    """Place the visible stamp and a PAdES signature; raise DocumentError for bad input."""
    return _unprocessable_as_refusal(_stamp)(job)


def _unprocessable_as_refusal(fn: Callable[[_A], _T]) -> Callable[[_A], _T]:
    """Any other error while the PDF library works on an upload refuses the document.

    The parser raises many exception types for damaged input (KeyError, TypeError, zlib
    errors...); the caller sent a document that cannot be processed, which is a 422 and
    costs nothing, not a 500.  Logged with the traceback, so a bug of ours stays visible.
    """
    def run(arg: _A) -> _T:
        try:
            return fn(arg)
        except DocumentError:
            raise
        except Exception as exc:
            logger.warning("document could not be processed", exc_info=True)
            raise DocumentError("corrupt_pdf",
                                f"the PDF cannot be processed: {type(exc).__name__}") from None
    return run


def _stamp(job: StampJob) -> StampOutput:
    state = _require_state()
    writer = _open(job.pdf)
    pdfwalk.check_structure(writer.prev)
    _check_streams(writer.prev)
    index, mb = _page_geometry(writer, job.page)
    try:
        placed, appearance = plan_stamp(writer.find_page_for_modification(index)[0].get_object(),
                                        (mb[0], mb[1], mb[2], mb[3]), job.box, job.verify_url,
                                        job.serial)
    except PlacementError as exc:
        raise DocumentError("bad_box", str(exc)) from None
    box = placed.box
    add_link(writer, index, box, job.verify_url)
    field_name = FIELD_PREFIX + job.serial
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=f"Meterai elektronik {job.serial}",
        location="Indonesia",
        name=job.serial,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=state.signer,
        stamp_style=state.style,
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=field_name, on_page=index,
            box=(round(box[0]), round(box[1]), round(box[2]), round(box[3]))
        ),
    )
    out = io.BytesIO()
    try:
        state.loop.run_until_complete(
            pdf_signer.async_sign_pdf(
                writer,
                output=out,
                bytes_reserved=BYTES_RESERVED,
                appearance_text_params={"content": appearance},
            )
        )
    except PdfError as exc:
        raise DocumentError("corrupt_pdf", f"the PDF cannot be stamped: {exc}") from None
    signed = out.getvalue()
    return StampOutput(pdf=signed, sha256_before=_sha256(job.pdf), sha256_after=_sha256(signed),
                       placement=placed.as_dict())


async def _validate(pdf: bytes, state: _WorkerState) -> VerifyOutput:
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=DECODE_LIMITS)
    except Exception as exc:
        raise DocumentError("corrupt_pdf", f"the PDF cannot be read: {exc}") from None
    if reader.encrypted:
        raise DocumentError("encrypted_pdf", "encrypted PDFs cannot be verified")
    pdfwalk.check_structure(reader)
    try:
        ours = [s for s in reader.embedded_regular_signatures
                if str(s.field_name).startswith(FIELD_PREFIX)]
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError("corrupt_pdf", f"the PDF's signature fields cannot be read: {exc}"
                            ) from None
    if not ours:
        return VerifyOutput(found=False, reasons=["no e-meterai signature in the document"])
    sig = ours[-1]
    serial = str(sig.field_name)[len(FIELD_PREFIX):]
    revision_end = _revision_end(sig.sig_object, len(pdf))
    vc = ValidationContext(trust_roots=[state.ca], allow_fetching=False)
    try:
        status = await async_validate_pdf_signature(sig, signer_validation_context=vc)
    except Exception as exc:
        raise DocumentError("malformed_signature",
                            f"the e-meterai signature cannot be checked: {exc}") from None
    reasons: list[str] = []
    if not status.intact or not status.valid:
        reasons.append("the signature does not match the document (altered after stamping)")
    if not status.trusted:
        reasons.append("the signing certificate is not issued by this service's CA")
    whole = revision_end == len(pdf)
    signed_at = status.signer_reported_dt.isoformat() if status.signer_reported_dt else None
    return VerifyOutput(
        found=True,
        serial=serial,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        signed_at=signed_at,
        document_sha256=_sha256(pdf[:revision_end]),
        whole_file=whole,
        reasons=reasons,
    )


def _revision_end(sig_object: generic.DictionaryObject, size: int) -> int:
    """Where the signed revision ends, from a ``/ByteRange`` checked to be well formed.

    A ``/ByteRange`` is four non-negative integers ``[0 a b c]`` covering the file around
    the signature's hex string: ``a <= b`` and ``b + c`` within the file.
    """
    malformed = DocumentError("malformed_signature",
                              "the e-meterai signature has no valid /ByteRange")
    try:
        raw = pdfwalk.resolve(sig_object.raw_get("/ByteRange"))
    except KeyError:
        raise malformed from None
    if not isinstance(raw, generic.ArrayObject) or len(raw) != 4:
        raise malformed
    values = [pdfwalk.resolve(v) for v in raw]
    if not all(isinstance(v, generic.NumberObject) for v in values):
        raise malformed
    start, first_len, second_start, second_len = (int(v) for v in values)  # type: ignore[call-overload]
    if start != 0 or min(first_len, second_start, second_len) < 0 \
            or first_len > second_start or second_start + second_len > size:
        raise malformed
    return second_start + second_len


def verify_document(pdf: bytes) -> VerifyOutput:
    """Validate the e-meterai signature in ``pdf`` against the service CA."""
    return _unprocessable_as_refusal(_verify)(pdf)


def _verify(pdf: bytes) -> VerifyOutput:
    state = _require_state()
    if b"%PDF-" not in pdf[:1024]:
        raise DocumentError("not_pdf", "the file is not a PDF document")
    return state.loop.run_until_complete(_validate(pdf, state))
