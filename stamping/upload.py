"""Reading multipart uploads with a hard size limit, enforced while the body streams in."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from stamping.errors import ApiError

__all__ = ["Upload", "read_upload"]

#: Room for multipart boundaries and the small text fields next to the file.
_ENVELOPE = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """The uploaded file and the other form fields."""

    data: bytes
    fields: dict[str, str]


class _TooLarge(Exception):
    pass


async def read_upload(request: Request, limit: int) -> Upload:
    """Parse ``multipart/form-data`` with a ``file`` part of at most ``limit`` bytes.

    The body is counted as it arrives, so an oversized upload is refused after ``limit``
    bytes, never buffered whole; a too-big Content-Length is refused before reading.
    """
    too_large = ApiError(413, "too_large", f"the upload exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _ENVELOPE:
        raise too_large
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "not_multipart", "send the document as multipart/form-data 'file'")
    received = 0
    upstream = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit + _ENVELOPE:
                raise _TooLarge
        return message

    limited = Request(request.scope, counting_receive)
    try:
        form = await limited.form(max_files=1, max_fields=8, max_part_size=4096)
    except _TooLarge:
        raise too_large from None
    except ApiError:  # the route's body cap (stamping.limits), raised while reading
        raise
    except Exception as exc:  # malformed multipart bodies
        raise ApiError(400, "bad_multipart", f"the form data cannot be parsed: {exc}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "missing_file", "the form has no 'file' part")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise too_large
        if not data:
            raise ApiError(400, "empty_file", "the uploaded file is empty")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return Upload(data, fields)
    finally:
        await form.close()
