"""PDF stamping, run inside the signing worker processes (``stamping.signing_worker``).

The untrusted upload is opened under decode limits and checked (structure, every stream, the
page), then the visible stamp and a PAdES signature are placed.  The functions here are plain
and synchronous: they take bytes and simple values and return picklable results, or raise
:class:`DocumentError` (also picklable) for input the service must refuse with a 4xx.
Verification is ``stamping.verifier``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfDecodeLimitError, PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter

from stamping import pdfwalk
from stamping.appearance import add_link
from stamping.document_error import DocumentError
from stamping.placement import PlacementError, plan_stamp
from stamping.signing_worker import require_state

__all__ = [
    "DocumentError",
    "StampJob",
    "StampOutput",
    "parse_box",
    "sha256_hex",
    "stamp_document",
    "unprocessable_as_refusal",
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

_T = TypeVar("_T")
_A = TypeVar("_A")


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


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex, as the ledger records it."""
    return hashlib.sha256(data).hexdigest()


def stamp_document(job: StampJob) -> StampOutput:
    """Place the visible stamp and a PAdES signature; raise DocumentError for bad input."""
    return unprocessable_as_refusal(_stamp)(job)


def unprocessable_as_refusal(fn: Callable[[_A], _T]) -> Callable[[_A], _T]:
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
    state = require_state()
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
    return StampOutput(pdf=signed, sha256_before=sha256_hex(job.pdf),
                       sha256_after=sha256_hex(signed), placement=placed.as_dict())
