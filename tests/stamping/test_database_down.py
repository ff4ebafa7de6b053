"""The stamping database goes away (issue 8, item 10).

Liveness stays up, readiness says what is wrong, every other request that needs the
database gets a JSON 503 with Retry-After (not a 500), and the service recovers by itself
when the database comes back.  The outage is real: on PostgreSQL the service talks to the
database through a TCP relay that the test cuts; on SQLite the directory holding the
database file disappears (an unmounted disk).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, register


class Relay:
    """A TCP relay to the real database that can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        self.up = False
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._conns.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self.up = True


@pytest.fixture
def outage(make_database_url: Callable[[str], str], backend: str, tmp_path: Path
           ) -> Iterator[tuple[str, Callable[[], object], Callable[[], object]]]:
    """(database URL, cut, restore) for a database that can really go away."""
    url = make_database_url("down")
    if backend == "sqlite":
        db_dir = tmp_path / "dbdir"
        db_dir.mkdir()
        moved = tmp_path / "dbdir-unmounted"
        yield (f"sqlite:///{db_dir / 'stamping.sqlite3'}",
               lambda: db_dir.rename(moved), lambda: moved.rename(db_dir))
        return
    parts = urlsplit(url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = f"{parts.username}@127.0.0.1:{relay.port}" if parts.username \
        else f"127.0.0.1:{relay.port}"
    yield urlunsplit(parts._replace(netloc=netloc)), relay.cut, relay.restore
    relay.listener.close()


def test_database_outage_gives_503_and_liveness_stays(
        make_settings: Callable[..., Settings],
        outage: tuple[str, Callable[[], None], Callable[[], None]]) -> None:
    url, cut, restore = outage
    settings = make_settings(database_url=url, fault_cache_seconds=0.1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        token = register(client)
        buy(client, token, 1)
        client.app.state.service.token_cache.clear()  # type: ignore[attr-defined]
        cut()
        client.app.state.service.db.engine.dispose()  # type: ignore[attr-defined]
        try:
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"]
            assert ready.json()["checks"]["database"].startswith("unavailable")
            assert ready.json()["checks"]["signing_pool"] == "ok"
            for method, path, kwargs in [
                ("GET", "/api/v1/quota", {"headers": auth(token)}),
                ("POST", "/api/v1/login", {"json": {"phone": "081234567890",
                                                    "password": "rahasia-sekali"}}),
                ("GET", "/verify/AAAAAAAAAAAAAAAAAAAAAA", {"headers": {
                    "Accept": "application/json"}}),
            ]:
                r = client.request(method, path, **kwargs)
                assert r.status_code == 503, (path, r.status_code, r.text[:200])
                assert r.json()["error"] == "database_unavailable" and r.headers["retry-after"]
            assert client.get("/").status_code == 200  # pages without data still render
        finally:
            restore()
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 1
