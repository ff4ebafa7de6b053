"""Stamping throughput and overload behaviour, measured through the real HTTP API.

Starts ``python -m stamping serve`` (real uvicorn, real signing pool) on a free port with a
throw-away data directory, creates a probe account, and then:

1. **throughput**: a closed loop of ``--concurrency`` clients stamps a one-page A4 PDF for
   ``--seconds`` and prints stamps/s, p50 and p99 latency, and the ratio to a baseline
   measured in the same run: pyHanko's plain ``sign_pdf`` with default settings, one process.
2. **overload**: offers ``--overload-factor`` (5) times the measured capacity as an open
   loop and prints goodput (successful stamps/s as % of capacity) and the p99 time to a 503.
3. **appearance**: what the visible stamp costs.  In this process, alternating rounds sign
   the same document the same way with (a) the previous appearance
   (pyHanko's QR stamp style, fixed box) and (b) the current one (content scan, blank-space
   placement, the pink design and the 100-dpi QR); prints both rates and new/old.

The load generator is a minimal HTTP/1.1 client over asyncio streams with a pre-encoded
request, so that on a small machine it takes as little CPU as possible from the service.

    .venv/bin/python benchmarks/stamping_throughput.py [--seconds 15] [--mode all]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

PHONE = "081299990000"
T = TypeVar("T")


def a4_pdf() -> bytes:
    """A one-page A4 document with a line of text."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    w = PdfFileWriter()
    font = w.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Font"),
        generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
        generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica")}))
    contents = w.add_object(generic.StreamObject(
        stream_data=b"BT /F1 14 Tf 72 770 Td (Surat pernyataan pelamar CASN 2024) Tj ET"))
    w.insert_page(PageObject(
        contents=contents,
        resources=generic.DictionaryObject({generic.NameObject("/Font"): generic.DictionaryObject(
            {generic.NameObject("/F1"): font})}),
        media_box=generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, 595.28, 841.89)])))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def baseline(pdf: bytes, data_dir: Path, seconds: float) -> float:
    """pyHanko's plain sign_pdf, default settings, one process: signatures per second."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    pki = data_dir / "pki"
    signer = signers.SimpleSigner.load(str(pki / "signer-key.pem"), str(pki / "signer.pem"),
                                       ca_chain_files=(str(pki / "ca.pem"),))
    assert signer is not None
    meta = signers.PdfSignatureMetadata(field_name="Signature1")
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
        count += 1
    return count / (time.perf_counter() - started)


def _legacy_style():
    """The previous appearance: pyHanko's QR stamp, fixed-mask QR, thin black frame."""
    import qrcode
    from pyhanko.pdf_utils.qr import PdfStreamQRImage
    from pyhanko.pdf_utils.writer import init_xobject_dictionary
    from pyhanko.stamp import QRPosition, QRStampStyle
    from pyhanko.stamp.qr import QRStamp

    class FixedMaskQRStamp(QRStamp):
        def _qr_xobject(self):
            qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                               mask_pattern=2)
            qr.add_data(self.url)
            qr.make()
            img = qr.make_image(image_factory=PdfStreamQRImage)
            size = (qr.modules_count + 2 * qr.border) * qr.box_size
            xobj = init_xobject_dictionary(img.render_command_stream(), size, size)
            xobj.compress()
            assert self.writer is not None
            return self.writer.add_object(xobj), size

    class LegacyStyle(QRStampStyle):
        def create_stamp(self, writer, box, text_params):
            url = text_params.pop("url")
            return FixedMaskQRStamp(writer, style=self, url=url, text_params=text_params,
                                    box=box)

    return LegacyStyle(stamp_text="METERAI ELEKTRONIK\n10000\n%(serial)s", border_width=1,
                       qr_position=QRPosition.ABOVE_TEXT, innsep=2)


def appearance_cost(pdf: bytes, data_dir: Path, seconds: float
                    ) -> tuple[float, float, float, float]:
    """Signatures/s with the old and the new appearance, same signer, alternating rounds:
    (old, new) per wall-clock second, then (old, new) per second of this process's CPU
    time, which other load on a shared machine disturbs far less."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from stamping import signer, signing_worker
    from stamping.appearance import add_link, meterai_style
    from stamping.pki import PkiPaths
    from stamping.placement import plan_stamp

    pki = PkiPaths.in_dir(data_dir)
    key = signing_worker._PreloadedSigner(
        signing_worker._load_cert(pki.signer_cert), pki.signer_key.read_bytes(),
        SimpleCertificateStore.from_certs([signing_worker._load_cert(pki.ca_cert)]))
    styles = {"old": _legacy_style(), "new": meterai_style()}
    serial = "ABCDEFGHJKLMNPQRSTUVWX"
    url = f"http://127.0.0.1:8001/verify/{serial}"

    def sign_once(variant: str) -> None:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        mb = [float(v) for v in writer.root["/Pages"]["/Kids"][0]["/MediaBox"]]
        if variant == "new":
            page = writer.find_page_for_modification(0)[0].get_object()
            placed, content = plan_stamp(page, (mb[0], mb[1], mb[2], mb[3]), None, url, serial)
            box = placed.box
            params: dict[str, object] = {"content": content}
        else:
            box = (mb[2] - 136, 36.0, mb[2] - 36, 136.0)
            params = {"url": url, "serial": serial}
        add_link(writer, 0, box, url)
        meta = signers.PdfSignatureMetadata(field_name="Meterai_" + serial,
                                            subfilter=SigSeedSubFilter.PADES,
                                            md_algorithm="sha256")
        spec = fields.SigFieldSpec(sig_field_name="Meterai_" + serial, on_page=0,
                                   box=tuple(round(v) for v in box))  # type: ignore[arg-type]
        pdf_signer = signers.PdfSigner(meta, signer=key, stamp_style=styles[variant],
                                       new_field_spec=spec)
        loop.run_until_complete(pdf_signer.async_sign_pdf(
            writer, output=io.BytesIO(), bytes_reserved=signer.BYTES_RESERVED,
            appearance_text_params=params))

    loop = asyncio.new_event_loop()
    counts = {"old": 0, "new": 0}
    spent = {"old": 0.0, "new": 0.0}
    cpu = {"old": 0.0, "new": 0.0}
    rounds = 10
    for variant in ("old", "new"):  # warm-up
        for _ in range(5):
            sign_once(variant)
    for _ in range(rounds):
        for variant in ("old", "new"):
            started, cpu_started = time.perf_counter(), time.process_time()
            while time.perf_counter() - started < seconds / rounds / 2:
                sign_once(variant)
                counts[variant] += 1
            spent[variant] += time.perf_counter() - started
            cpu[variant] += time.process_time() - cpu_started
    loop.close()
    return (counts["old"] / spent["old"], counts["new"] / spent["new"],
            counts["old"] / cpu["old"], counts["new"] / cpu["new"])


@dataclass
class Result:
    """One request's outcome."""

    status: int
    latency: float
    finished: float


class RawClient:
    """Keep-alive HTTP/1.1 connections to one host; one request per connection at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send a pre-encoded request; return (status, body).

        A pooled connection the server has closed meanwhile (keep-alive timeout) is
        replaced by a fresh one, as browsers and HTTP libraries do.
        """
        while self.idle:
            conn = self.idle.pop()
            try:
                return await self._exchange(conn, raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn[1].close()
        conn = await asyncio.open_connection("127.0.0.1", self.port)
        return await self._exchange(conn, raw)

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        raw: bytes) -> tuple[int, bytes]:
        reader, writer = conn
        writer.write(raw)
        status_line = await reader.readline()
        if not status_line:
            writer.close()
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                keep = False
        body = await reader.readexactly(length) if length else b""
        if keep:
            self.idle.append(conn)
        else:
            writer.close()
        return status, body

    def close(self) -> None:
        """Close every idle connection."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def stamp_request(token: str, pdf: bytes) -> bytes:
    """A complete POST /api/v1/stamps request, encoded once."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"surat.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode() + \
        pdf + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /api/v1/stamps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def closed_loop(port: int, raw: bytes, concurrency: int, seconds: float) -> list[Result]:
    """``concurrency`` clients, each sending the next request when the last one returns."""
    client = RawClient(port)
    results: list[Result] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await client.send(raw)
            now = time.perf_counter()
            results.append(Result(status, now - started, now))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.close()
    return results


async def open_loop(port: int, raw: bytes, rate: float, seconds: float) -> list[Result]:
    """Requests arrive at ``rate`` per second whatever the service does (a surge)."""
    client = RawClient(port)
    results: list[Result] = []
    tasks: list[asyncio.Task[None]] = []

    async def one() -> None:
        started = time.perf_counter()
        try:
            status, _ = await client.send(raw)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            status = 0
        now = time.perf_counter()
        results.append(Result(status, now - started, now))

    begin = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - begin) < seconds:
        due = int(elapsed * rate) + 1
        while n < due:
            tasks.append(asyncio.create_task(one()))
            n += 1
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    client.close()
    return results


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``python -m stamping serve`` and wait until /readyz answers."""
    import httpx

    env = {**os.environ, "STAMPING_ADMIN_TOKEN": "bench-admin", "STAMPING_DATA_DIR": str(data_dir)}
    env.pop("STAMPING_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "stamping", "--log-level", "warning", "serve", "--port",
           str(port), "--data-dir", str(data_dir)]
    if workers:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the service did not start")
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the service did not become ready")


def probe_token(data_dir: Path) -> str:
    """Create a probe account with the CLI; the token is on the last line."""
    out = subprocess.run([sys.executable, "-m", "stamping", "--log-level", "warning", "account",
                          "add", "--phone", PHONE, "--name", "Benchmark", "--probe",
                          "--data-dir", str(data_dir)], check=True, capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items()
                                         if k != "STAMPING_DATABASE_URL"})
    return out.stdout.strip().splitlines()[-1]


def buy(port: int, token: str, quantity: int) -> None:
    """Probe accounts' orders are paid at once."""
    import httpx

    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/orders", json={"quantity": quantity},
                   headers={"Authorization": f"Bearer {token}",
                            "Idempotency-Key": uuid.uuid4().hex}, timeout=30)
    r.raise_for_status()


def refusal_buckets(port: int) -> dict[float, float]:
    """Server-side latency histogram of 503 answers to POST /api/v1/stamps (cumulative)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("stamping_http_request_duration_seconds_bucket") and \
                'route="/api/v1/stamps"' in line and 'status="503"' in line:
            le = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if le == "+Inf" else float(le)] = float(line.split()[-1])
    return buckets


def report_throughput(results: list[Result], seconds: float) -> float:
    """Print and return stamps/s over the measured window."""
    ok = [r for r in results if r.status == 201]
    other = len(results) - len(ok)
    rate = len(ok) / seconds
    print(f"throughput: {rate:.1f} stamps/s ({len(ok)} stamps in {seconds:.1f}s, "
          f"{other} non-201), p50 {pct([r.latency for r in ok], .5):.0f} ms, "
          f"p99 {pct([r.latency for r in ok], .99):.0f} ms")
    return rate


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (a cheaper load generator)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=0,
                        help="closed-loop clients (default: 4 per signing worker)")
    parser.add_argument("--workers", type=int, default=0, help="signing workers (default: CPUs)")
    parser.add_argument("--overload-factor", type=float, default=5.0)
    parser.add_argument("--mode", choices=["throughput", "overload", "both", "appearance",
                                           "all"], default="all",
                        help="both = throughput + overload; all = both + appearance")
    args = parser.parse_args()
    workers = args.workers or os.cpu_count() or 1
    concurrency = args.concurrency or 4 * workers
    pdf = a4_pdf()
    data_dir = Path(tempfile.mkdtemp(prefix="stamping-bench-"))
    port = free_port()
    proc = start_service(data_dir, port, args.workers)
    try:
        token = probe_token(data_dir)
        # Enough quota for the whole run: top up in orders of at most 1000.
        for _ in range(int(args.seconds * 60 * 2 * (1 + args.overload_factor) / 1000) + 1):
            buy(port, token, 1000)
        raw = stamp_request(token, pdf)
        print(f"machine: {os.cpu_count()} CPUs; service: {workers} signing workers; "
              f"document: one-page A4, {len(pdf)} bytes; concurrency {concurrency}")
        _run(closed_loop(port, raw, concurrency, 2.0))  # warm-up
        results = _run(closed_loop(port, raw, concurrency, args.seconds))
        capacity = report_throughput(results, args.seconds)
        summary_extra: dict[str, float] = {}
        base = baseline(pdf, data_dir, min(args.seconds, 10))
        print(f"baseline: pyHanko sign_pdf, default settings, one process: {base:.1f} "
              f"signatures/s; service/baseline = {capacity / base:.2f}x")
        if args.mode in ("appearance", "all"):
            old, new, old_cpu, new_cpu = appearance_cost(pdf, data_dir,
                                                         min(args.seconds, 10) * 2)
            summary_extra["appearance_ratio"] = new / old
            summary_extra["appearance_cpu_ratio"] = new_cpu / old_cpu
            print(f"appearance: one process, same signer, alternating rounds: before issue 15 "
                  f"{old:.1f} signatures/s, now {new:.1f} signatures/s; new/old = "
                  f"{new / old:.3f} (cost {100 * (1 - new / old):.1f}% of throughput); per CPU "
                  f"second {old_cpu:.1f} vs {new_cpu:.1f}, new/old = {new_cpu / old_cpu:.3f}")
        if args.mode in ("overload", "both", "all"):
            offered = capacity * args.overload_factor
            before = refusal_buckets(port)
            results = _run(open_loop(port, raw, offered, args.seconds))
            after = refusal_buckets(port)
            served = {le: after[le] - before.get(le, 0.0) for le in after}
            ok = [r for r in results if r.status == 201]
            shed = [r for r in results if r.status == 503]
            other = Counter(r.status for r in results if r.status not in (201, 503))
            goodput = len(ok) / args.seconds
            print(f"overload: offered {offered:.0f} req/s ({args.overload_factor:g}x capacity) "
                  f"for {args.seconds:.0f}s: goodput {goodput:.1f} stamps/s = "
                  f"{100 * goodput / capacity:.0f}% of capacity; "
                  f"{len(shed)} refused with 503, p50 time-to-503 "
                  f"{pct([r.latency for r in shed], .5):.1f} ms, p99 time-to-503 "
                  f"{pct([r.latency for r in shed], .99):.1f} ms; successful p99 "
                  f"{pct([r.latency for r in ok], .99):.0f} ms; other statuses: {dict(other)}")
            total = served.get(float("inf"), 0.0)
            if total:
                within = {le: 100 * n / total for le, n in served.items()
                          if le in (0.001, 0.005, 0.05)}
                print("server-side time-to-503 (from /metrics): " + ", ".join(
                    f"{share:.1f}% within {le * 1000:g} ms" for le, share in sorted(
                        within.items())))
        summary = {"capacity": capacity, "baseline": base, **summary_extra}
        print(json.dumps({k: round(v, 2) for k, v in summary.items()}))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
