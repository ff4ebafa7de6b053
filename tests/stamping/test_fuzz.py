"""Fuzzing the PDF intake: random mutations of seed PDFs, fixed seed, a CI-sized budget.

Every mutated upload must get an answer below 500, within the job deadline, and spend a
unit only when a stamped PDF comes back (issue 8, proof).  The seeds cover the shapes the
service meets: one and several pages, an undecodable image, a stamped document (for
verification), and the hostile documents of ``pdfs.hostile_pdfs``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register
from tests.stamping.pdfs import hostile_pdfs, make_pdf

#: Seconds of fuzzing per backend (the whole test stays well under a minute on CI).
BUDGET_SECONDS = 12.0
SEED = 20260908
CPU_DEADLINE = 2.0
WALL_DEADLINE = 6.0
QUOTA = 1000

_TOKENS = [b"obj", b"endobj", b"stream", b"endstream", b"R", b"/Parent", b"/Kids", b"/Count",
           b"/MediaBox", b"/Length", b"/Filter", b"/FlateDecode", b"xref", b"trailer", b"<<",
           b">>", b"[", b"]", b"-1", b"0", b"99999999999", b"1e308", b"/ByteRange", b"null",
           b"(", b")", b"\\", b"%%EOF", b"startxref", b"/Root", b"/Type /Pages"]
_NUMBER = re.compile(rb"\d+")


def _mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One to four random edits: flips, cuts, duplications, token and number swaps, splices."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += rng.choice(seeds)
        op = rng.randrange(8)
        at = rng.randrange(len(out))
        if op == 0:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 1:  # truncate
            del out[at:]
        elif op == 2:  # delete a run
            del out[at:at + rng.randint(1, 200)]
        elif op == 3:  # duplicate a run elsewhere
            run = out[at:at + rng.randint(1, 400)]
            where = rng.randrange(len(out) + 1)
            out[where:where] = run
        elif op == 4:  # insert a PDF token
            out[at:at] = b" " + rng.choice(_TOKENS) + b" "
        elif op == 5:  # change a number (object numbers, lengths, offsets, coordinates)
            numbers = list(_NUMBER.finditer(bytes(out)))
            if numbers:
                m = rng.choice(numbers)
                new = str(rng.choice([0, 1, 2, 3, -1, int(m.group()) + 1, 2**31,
                                      rng.randrange(10**6)])).encode()
                out[m.start():m.end()] = new
        elif op == 6:  # splice with another seed
            other = rng.choice(seeds)
            out = out[:at] + other[rng.randrange(len(other)):]
        else:  # random garbage
            out[at:at] = rng.randbytes(rng.randint(1, 64))
    return bytes(out)


def test_fuzzed_uploads_never_5xx_never_hang_never_spend_on_refusal(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(sign_cpu_seconds=CPU_DEADLINE, sign_wall_seconds=WALL_DEADLINE)
    rng = random.Random(SEED)
    with TestClient(create_app(settings)) as client:
        token = register(client)
        buy(client, token, QUOTA)
        stamped = client.post("/api/v1/stamps", files=pdf_file(make_pdf()),
                              headers=auth(token)).content
        seeds = [make_pdf(), make_pdf(pages=3), make_pdf(jpeg=True), stamped,
                 *hostile_pdfs().values()]
        issued, cases = 1, 0
        statuses: dict[int, int] = {}
        started = time.monotonic()
        while time.monotonic() - started < BUDGET_SECONDS:
            data = _mutate(rng, rng.choice(seeds), seeds)
            verify = rng.random() < 0.3
            t0 = time.monotonic()
            if verify:
                r = client.post("/api/v1/verify", files=pdf_file(data))
            else:
                r = client.post("/api/v1/stamps", files=pdf_file(data), headers=auth(token))
            elapsed = time.monotonic() - t0
            cases += 1
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (cases, r.status_code, r.text[:300], data[:200])
            assert elapsed < WALL_DEADLINE + 2, (cases, elapsed, data[:200])
            if r.status_code >= 400:
                assert r.json()["error"] and r.json()["message"], r.text
            elif not verify:
                assert r.status_code == 201 and r.content.startswith(b"%PDF")
                issued += 1
        quota = client.get("/api/v1/quota", headers=auth(token)).json()
        assert quota == {"available": QUOTA - issued, "spent": issued}, (quota, statuses)
        assert cases >= 20, f"only {cases} cases in {BUDGET_SECONDS} s"
        assert client.get("/readyz").status_code == 200
