"""Shared fixtures: a real database (SQLite file, and PostgreSQL when it is there)."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        import psycopg
        with psycopg.connect(PG_URL, connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Logs, demo databases and the escpos cache go to a temporary data dir."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("TUI_POS_CONFIG", raising=False)
    escpos_cache = os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR") or str(tmp_path_factory.getbasetemp() / "escpos")
    monkeypatch.setenv("ESCPOS_CAPABILITIES_PICKLE_DIR", escpos_cache)


def _sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'pos.db'}"


@pytest.fixture
def pg_schema_url():
    """A fresh PostgreSQL schema; dropped afterwards."""
    if not postgres_available():
        if os.environ.get("TUI_POS_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here (TUI_POS_REQUIRE_POSTGRES) but {PG_URL} is unreachable")
        pytest.skip("PostgreSQL not available")
    import psycopg
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}?options=-c%20search_path%3D{schema}"
    from tui_pos.models import db
    if db.obj is not None and not db.is_closed():
        db.close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def database(db_url):
    """A migrated database bound to the proxy."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(db_url)
    database.connect(reuse_if_open=True)
    migrate(database)
    yield database
    if not db.is_closed():
        db.close()


@pytest.fixture
def sqlite_database(tmp_path):
    """A migrated SQLite file only (for SQLite-specific checks and UI tests)."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(_sqlite_url(tmp_path))
    database.connect(reuse_if_open=True)
    migrate(database)
    yield database
    if not db.is_closed():
        db.close()


@pytest.fixture
def demo(database):
    """The demo catalogue and users."""
    from tui_pos.services.demo import seed_demo
    seed_demo(with_loyalty=False)  # tests make their own customers and programs
    return database


@pytest.fixture
def sales(demo):
    from tui_pos.services.sales import SaleService
    return SaleService("R1", store_name="Test Store", max_discount_bp=1000, tenders=["cash", "card", "voucher"],
                       sales_modes=["counter", "takeaway"])


@pytest.fixture
def manager_id(demo):
    from tui_pos.services import users
    return users.manager_for("2222").id


@pytest.fixture
def cashier_id(demo):
    from tui_pos.services import users
    return users.authenticate("1111").id


class TcpProxy:
    """A TCP relay to the PostgreSQL server that a test can cut (every connection dropped) and restore."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading
        self.target = (host, port)
        self.port = 0
        self._server = None
        self._conns: list = []
        self._lock = threading.Lock()
        self._socket, self._threading = socket, threading

    def start(self) -> TcpProxy:
        server = self._socket.socket()
        server.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        self._server = server
        self._threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = self._socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass

    def server_ports(self) -> list[int]:
        """The local ports of the relay's connections to the server (pg_stat_activity.client_port)."""
        with self._lock:
            ports = []
            for s in self._conns:
                try:
                    if s.getpeername()[1] == self.target[1]:
                        ports.append(s.getsockname()[1])
                except OSError:
                    pass
            return ports

    @property
    def up(self) -> bool:
        """The relay takes connections (not cut)."""
        return self._server is not None

    def cut(self) -> None:
        """The network goes: the port refuses, and open connections die."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown(self._socket.SHUT_RDWR)  # wakes the accept(): a bare close() would not
            except OSError:
                pass
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def pg_relays(pg_schema_url):
    """Make relays to the PostgreSQL server (each cut and restored on its own): `make()` -> (url, relay)."""
    from urllib.parse import urlsplit
    parts = urlsplit(PG_URL)
    made: list[TcpProxy] = []

    def make() -> tuple[str, TcpProxy]:
        relay = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        made.append(relay)
        return pg_schema_url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{relay.port}", 1), relay
    yield make
    for relay in made:
        relay.cut()


@pytest.fixture
def pg_proxy_url(pg_schema_url):
    """The test schema's URL through a relay that the test can cut and restore (`.proxy`)."""
    from urllib.parse import urlsplit
    parts = urlsplit(PG_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    url = pg_schema_url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}", 1)
    yield url, proxy
    proxy.cut()
