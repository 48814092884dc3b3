"""Real local servers for the messaging tests: an SMTP server (aiosmtpd) and an HTTP SMS gateway."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SmtpServer:
    """aiosmtpd on 127.0.0.1: keeps every message; refuses recipients whose address starts with `bounce`."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        self.messages: list = []
        outer = self

        class Handler:
            async def handle_RCPT(self,  # noqa: N802 - aiosmtpd's hook names
                                   server, session, envelope, address, rcpt_options):
                if address.startswith("bounce"):
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self,  # noqa: N802
                                   server, session, envelope):
                outer.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                         policy=policy.default))
                return "250 Message accepted for delivery"

        import socket
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]   # aiosmtpd checks it is up by connecting: it needs the port first
        probe.close()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SmsGateway:
    """An HTTP SMS gateway on 127.0.0.1. `mode`: ok (200), fail (500), slow (answers after `delay` s), down."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.mode = "ok"
        self.delay = 3.0
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                if outer.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"gateway error")
                    return
                outer.received.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "queued"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/sms"

    def start(self) -> SmsGateway:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
