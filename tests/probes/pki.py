"""A throwaway ECDSA P-256 CA and a signed copy of the reference PDF, for signature tests."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from probes import reference_pdf

SERIAL = "PROBETEST0123456789ABC"


@dataclass(frozen=True)
class ThrowawayPki:
    """PEM files of a CA and a signer it issued."""

    ca_pem: bytes
    ca_key_path: Path
    ca_cert_path: Path
    signer_key_path: Path
    signer_cert_path: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(directory: Path, label: str = "Probe Test") -> ThrowawayPki:
    """Create a CA and a document-signing certificate under ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} Signer"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    no_pass = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    paths = ThrowawayPki(
        ca_pem=ca_cert.public_bytes(pem),
        ca_key_path=directory / "ca-key.pem",
        ca_cert_path=directory / "ca.pem",
        signer_key_path=directory / "signer-key.pem",
        signer_cert_path=directory / "signer.pem",
    )
    paths.ca_key_path.write_bytes(ca_key.private_bytes(pem, pkcs8, no_pass))
    paths.ca_cert_path.write_bytes(paths.ca_pem)
    paths.signer_key_path.write_bytes(key.private_bytes(pem, pkcs8, no_pass))
    paths.signer_cert_path.write_bytes(cert.public_bytes(pem))
    return paths


def sign_pdf(pki: ThrowawayPki, pdf: bytes | None = None, serial: str = SERIAL) -> bytes:
    """A PAdES-signed copy of ``pdf`` (default: the reference PDF)."""
    signer = signers.SimpleSigner.load(
        str(pki.signer_key_path), str(pki.signer_cert_path), ca_chain_files=(str(pki.ca_cert_path),)
    )
    assert signer is not None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf or reference_pdf()))
    meta = signers.PdfSignatureMetadata(
        field_name=f"Meterai_{serial}", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = signers.sign_pdf(writer, meta, signer=signer)
    return out.getvalue()


def tamper(signed: bytes) -> bytes:
    """The same file with one covered word changed (same length, so offsets still hold)."""
    assert b"reference document" in signed
    return signed.replace(b"reference document", b"forged    document", 1)
