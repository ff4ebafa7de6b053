"""Fixtures for the probe tests: a throwaway PKI, signed documents and a fake stamping API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probes.fakes import FakeStamping
from tests.probes.pki import SERIAL, ThrowawayPki, make_pki, sign_pdf, tamper


@pytest.fixture
def anyio_backend() -> str:
    """Probes run on asyncio (the scheduler's loop)."""
    return "asyncio"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayPki:
    """A CA and a signer it issued (ECDSA P-256)."""
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayPki:
    """An unrelated CA, to sign documents the service CA must not trust."""
    return make_pki(Path(tmp_path_factory.mktemp("other-pki")), "Impostor")


@pytest.fixture(scope="session")
def signed_pdf(pki: ThrowawayPki) -> bytes:
    """The reference PDF, genuinely signed by the test signer."""
    return sign_pdf(pki)


@pytest.fixture(scope="session")
def tampered_pdf(signed_pdf: bytes) -> bytes:
    """The signed PDF with covered content changed afterwards."""
    return tamper(signed_pdf)


@pytest.fixture
def service(pki: ThrowawayPki, signed_pdf: bytes) -> FakeStamping:
    """A well-behaved fake stamping service."""
    return FakeStamping(signed_pdf=signed_pdf, ca_pem=pki.ca_pem, serial=SERIAL)


@pytest.fixture(scope="session")
def foreign_pdf(other_pki: ThrowawayPki) -> bytes:
    """The reference PDF signed under the impostor CA (built outside any event loop)."""
    return sign_pdf(other_pki)
