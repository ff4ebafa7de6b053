"""Signature checks against a throwaway CA: genuine, tampered, foreign, extended, garbage."""

from __future__ import annotations

import pytest

from probes.signature import check_signed_pdf, load_ca
from tests.probes.pki import ThrowawayPki


def test_genuine_document_passes(pki: ThrowawayPki, signed_pdf: bytes) -> None:
    check = check_signed_pdf(signed_pdf, load_ca(pki.ca_pem))
    assert check.ok, check.reasons
    assert check.field_name and check.field_name.startswith("Meterai_")


def test_tampered_document_is_not_intact(pki: ThrowawayPki, tampered_pdf: bytes) -> None:
    check = check_signed_pdf(tampered_pdf, load_ca(pki.ca_pem))
    assert not check.ok
    assert not check.intact


def test_document_from_another_ca_is_untrusted(pki: ThrowawayPki, foreign_pdf: bytes) -> None:
    check = check_signed_pdf(foreign_pdf, load_ca(pki.ca_pem))
    assert check.intact and not check.trusted and not check.ok


def test_bytes_appended_after_signing_are_caught(pki: ThrowawayPki, signed_pdf: bytes) -> None:
    check = check_signed_pdf(signed_pdf + b"\n% appended\n", load_ca(pki.ca_pem))
    assert not check.whole_file and not check.ok


def test_unsigned_and_unreadable_documents(pki: ThrowawayPki) -> None:
    from probes import reference_pdf

    ca = load_ca(pki.ca_pem)
    unsigned = check_signed_pdf(reference_pdf(), ca)
    assert unsigned.readable and not unsigned.signed
    garbage = check_signed_pdf(b"not a pdf at all", ca)
    assert not garbage.readable and not garbage.ok


def test_load_ca_accepts_pem_and_der_and_rejects_garbage(pki: ThrowawayPki) -> None:
    from asn1crypto import pem

    cert = load_ca(pki.ca_pem)
    assert load_ca(pem.unarmor(pki.ca_pem)[2]).sha256 == cert.sha256
    with pytest.raises(ValueError):
        load_ca(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError):
        load_ca(b"<html>hello</html>")
