"""The status page's own signing key for deadline notices (PAdES via pyHanko).

A self-signed ECDSA P-256 certificate is made on first use and kept in the data directory
(``notice-signing.pem``: key and certificate in one file, created atomically, so several web
processes sharing a data directory agree on one key). The certificate is published at
``/deadlines/certificate.pem`` so anyone can check a notice was not altered: the trust in it
comes from the page that publishes it, not from a public CA.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = ["NoticeKey", "load_or_create_key", "sign_notice"]

log = logging.getLogger(__name__)
FILE_NAME = "notice-signing.pem"
#: Space for the CMS blob (ECDSA signature + one certificate + PAdES attributes ~ 1.5 KB).
BYTES_RESERVED = 8192


@dataclass(frozen=True)
class NoticeKey:
    """The loaded key and certificate (load once per process; signing reuses it)."""

    key: ec.EllipticCurvePrivateKey
    cert_pem: bytes
    signer: signers.SimpleSigner


def _make(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name[:64])])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM))


def load_or_create_key(data_dir: Path, common_name: str) -> NoticeKey:
    """The page's notice key, created (atomically, mode 0600) when missing."""
    path = data_dir / FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".notice-key-")
        try:
            os.write(fd, _make(f"{common_name} - deadline notices"))
            os.close(fd)
            os.link(tmp, path)  # fails if another process made one first: theirs wins
            log.info("created the notice signing key %s", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an ECDSA key")
    cert = x509.load_pem_x509_certificate(pem)
    cert_asn1 = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    info = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=cert_asn1, signing_key=info,
                                  cert_registry=SimpleCertificateStore.from_certs([cert_asn1]))
    return NoticeKey(key, cert.public_bytes(serialization.Encoding.PEM), signer)


def sign_notice(pdf: bytes, key: NoticeKey, reason: str, location: str) -> bytes:
    """``pdf`` with a PAdES signature over the whole file (call from a thread, not the loop)."""
    meta = signers.PdfSignatureMetadata(field_name="NoticeSignature",
                                        subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
                                        reason=reason[:200], location=location[:100])
    out = io.BytesIO()
    pdf_signer = signers.PdfSigner(meta, signer=key.signer)
    asyncio.run(pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out,
                                          bytes_reserved=BYTES_RESERVED))
    return out.getvalue()
