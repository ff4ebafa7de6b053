"""Verifying the e-meterai signature of a PDF, run inside the signing worker processes.

The document is opened under the same decode limits as for stamping, the last ``Meterai_``
signature is validated against the service CA, and its ``/ByteRange`` is checked,
which tells whether the signature covers the whole file.  The web process cross-checks the
result with the ledger.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from stamping import pdfwalk
from stamping.document_error import DocumentError
from stamping.signer import DECODE_LIMITS, FIELD_PREFIX, sha256_hex, unprocessable_as_refusal
from stamping.signing_worker import WorkerState, require_state

__all__ = ["VerifyOutput", "verify_document"]


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


async def _validate(pdf: bytes, state: WorkerState) -> VerifyOutput:
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
        document_sha256=sha256_hex(pdf[:revision_end]),
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
    return unprocessable_as_refusal(_verify)(pdf)


def _verify(pdf: bytes) -> VerifyOutput:
    state = require_state()
    if b"%PDF-" not in pdf[:1024]:
        raise DocumentError("not_pdf", "the file is not a PDF document")
    return state.loop.run_until_complete(_validate(pdf, state))
