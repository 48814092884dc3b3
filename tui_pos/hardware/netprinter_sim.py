"""A network receipt printer on 127.0.0.1, for tests, benchmarks and trying the queue without hardware.

It listens like a JetDirect printer (raw TCP), answers the ESC/POS real-time
status queries a printer answers (DLE EOT 1 online, DLE EOT 4 paper sensor)
and keeps what each connection printed as one job. `stop()` closes the port
(the printer is switched off: connections are refused), `start()` opens it
again on the same port; `paper = "out"` makes it report an empty roll.
"""

from __future__ import annotations

import socket
import threading
import time

_STATUS = {"ok": 0x12, "low": 0x1E, "out": 0x72}


class SimulatedPrinter:
    """A raw TCP printer in a thread; `jobs` holds the bytes of each print, in order."""

    def __init__(self, port: int = 0, *, answers: bool = True, latency: float = 0.0) -> None:
        self.port = port
        self.answers = answers
        self.latency = latency          # seconds before answering a status query (a busy printer)
        self.paper = "ok"
        self.jobs: list[bytes] = []
        self.connections = 0
        self._server: socket.socket | None = None
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def start(self) -> SimulatedPrinter:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(8)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = bytearray()
        with conn:
            self.connections += 1
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data.extend(chunk)
                # real-time status queries come first on a connection: answer and drop them
                while len(data) >= 3 and data[:2] == b"\x10\x04":
                    query = data[2]
                    del data[:3]
                    if self.answers:
                        if self.latency:
                            time.sleep(self.latency)
                        byte = 0x16 if query == 1 else _STATUS[self.paper]
                        try:
                            conn.sendall(bytes([byte]))
                        except OSError:
                            break
        if data:
            with self.changed:
                self.jobs.append(bytes(data))
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` jobs have arrived (or the timeout)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.jobs) >= count, timeout)
