"""Check a stamped PDF for real: its signature is intact, covers the file, and chains to the CA.

pyHanko is CPU-bound; :func:`check_signed_pdf` is synchronous and meant to run in a worker
thread (``asyncio.to_thread``) so a probe does not stall the event loop it shares with others.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

__all__ = ["SignatureCheck", "check_signed_pdf", "load_ca"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureCheck:
    """What the validation of the last signature in a document found."""

    readable: bool
    signed: bool = False
    intact: bool = False
    trusted: bool = False
    whole_file: bool = False
    field_name: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Intact, trusted and covering every byte of the file."""
        return self.readable and self.signed and self.intact and self.trusted and self.whole_file


def load_ca(data: bytes) -> asn1_x509.Certificate:
    """Parse a CA certificate in PEM (or DER); raises :class:`ValueError` when it is not one."""
    try:
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        cert = asn1_x509.Certificate.load(der)
        cert.native  # noqa: B018 - force the lazy parse so garbage fails here
    except Exception as exc:
        raise ValueError(f"not an X.509 certificate: {exc}") from None
    return cert


def check_signed_pdf(pdf: bytes, ca: asn1_x509.Certificate) -> SignatureCheck:
    """Validate the last signature of ``pdf`` with ``ca`` as the only trust root.

    Never raises for a bad document: an unreadable or unsigned file is reported in the result.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_regular_signatures
    except Exception as exc:
        return SignatureCheck(readable=False, reasons=[f"the PDF cannot be read: {exc}"])
    if not signatures:
        return SignatureCheck(readable=True, reasons=["the PDF carries no signature"])
    sig = signatures[-1]
    name = str(sig.field_name)
    # No network: the service CA is the whole trust store; revocation is not this probe's job.
    context = ValidationContext(trust_roots=[ca], allow_fetching=False)
    try:
        status = asyncio.run(async_validate_pdf_signature(sig, signer_validation_context=context))
    except Exception as exc:
        log.debug("signature validation raised", exc_info=True)
        return SignatureCheck(
            readable=True, signed=True, field_name=name, reasons=[f"validation error: {exc}"]
        )
    intact = bool(status.intact and status.valid)
    trusted = bool(status.trusted)
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    reasons: list[str] = []
    if not intact:
        reasons.append("the signature does not match the document")
    if not trusted:
        reasons.append("the signing certificate does not chain to the service CA")
    if not whole:
        reasons.append("the signature does not cover the whole file")
    return SignatureCheck(
        readable=True,
        signed=True,
        intact=intact,
        trusted=trusted,
        whole_file=whole,
        field_name=name,
        reasons=reasons,
    )
