"""The service's small PKI: a CA and a signing certificate, created on first start.

Both keys are ECDSA P-256: signing with P-256 is much cheaper than RSA-2048 and every PDF
verifier in use (Acrobat, poppler/NSS, pyHanko) accepts it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["PkiPaths", "ensure_pki"]

logger = logging.getLogger(__name__)

_CA_YEARS = 20
_SIGNER_YEARS = 5


@dataclass(frozen=True)
class PkiPaths:
    """Where the CA and the signing key/certificate live inside the data directory."""

    ca_cert: Path
    ca_key: Path
    signer_cert: Path
    signer_key: Path

    @classmethod
    def in_dir(cls, data_dir: Path) -> PkiPaths:
        """The standard layout under ``data_dir/pki``."""
        base = data_dir / "pki"
        return cls(
            ca_cert=base / "ca.pem",
            ca_key=base / "ca-key.pem",
            signer_cert=base / "signer.pem",
            signer_key=base / "signer-key.pem",
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Layanan Meterai Elektronik (simulasi)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    # The key files must never be readable by other users.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_pki(data_dir: Path) -> PkiPaths:
    """Create the CA and the signing certificate in ``data_dir`` unless they already exist.

    Creation writes to temporary names and renames last, so two processes starting at
    once never see half a PKI (the loser of the race simply keeps the winner's files).
    """
    paths = PkiPaths.in_dir(data_dir)
    if paths.signer_cert.exists() and paths.ca_cert.exists():
        return paths
    paths.ca_cert.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Meterai Elektronik Simulasi Root CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Meterai Elektronik Simulasi Signer"))
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * _SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    suffix = f".tmp{os.getpid()}"
    tmp = {p: p.with_name(p.name + suffix) for p in (
        paths.ca_key, paths.signer_key, paths.ca_cert, paths.signer_cert)}
    _write_private(tmp[paths.ca_key], _key_pem(ca_key))
    _write_private(tmp[paths.signer_key], _key_pem(signer_key))
    tmp[paths.ca_cert].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tmp[paths.signer_cert].write_bytes(signer_cert.public_bytes(serialization.Encoding.PEM))
    if paths.signer_cert.exists():  # another process won the race
        for t in tmp.values():
            t.unlink(missing_ok=True)
        return paths
    # The signer certificate is renamed last: its presence means the set is complete.
    for p in (paths.ca_key, paths.signer_key, paths.ca_cert, paths.signer_cert):
        os.replace(tmp[p], p)
    logger.info("created service CA and signing certificate in %s", paths.ca_cert.parent)
    return paths
