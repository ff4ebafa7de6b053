"""The one way a store verb refuses a change: ``Refused`` with an error message per field.

A verb raises it before it writes anything (or the caller's transaction rolls back what it
wrote), so a refusal changes nothing. The console shows ``errors`` beside the fields
(``statuspage.views.admin.common.in_session``), the automation API answers 422 with them, the
CLI prints the message. Field ``_`` is for a message that belongs to no one field.
"""

from __future__ import annotations

from collections.abc import Mapping

from statuspage.inputs import InputError, clean_text

__all__ = ["Refused", "clean"]


class Refused(ValueError):
    """Refused input; ``errors`` maps form/JSON field names to messages (in Indonesian).

    >>> Refused("Email ini sudah terdaftar.", "email").errors
    {'email': 'Email ini sudah terdaftar.'}
    >>> str(Refused({"name": "Judul wajib diisi.", "body": "Pesan wajib diisi."}))
    'Judul wajib diisi. Pesan wajib diisi.'
    """

    def __init__(self, errors: Mapping[str, str] | str, field: str = "_") -> None:
        self.errors: dict[str, str] = (
            {field: errors} if isinstance(errors, str) else dict(errors))
        super().__init__(" ".join(self.errors.values()))


def clean(text: str, field: str) -> str:
    """``text`` with the text rule of ``statuspage.inputs`` applied, else ``Refused`` on
    ``field``."""
    try:
        return clean_text(text, field)
    except InputError:
        raise Refused("Teks berisi karakter kontrol (hanya baris baru dan tab yang boleh).",
                      field) from None
