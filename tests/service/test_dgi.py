"""The online RUC check against a real local HTTP server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from tui_pos.services import dgi

REGISTRY = {("155587169-2-2014", "09"): "ACME PANAMA, S.A."}


class Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        Handler.requests.append((q, self.headers.get("Authorization")))
        if q.get("ruc") == ["SLOW"]:
            time.sleep(3)
        key = (q["ruc"][0], q["dv"][0])
        body = {"valid": key in REGISTRY, "name": REGISTRY.get(key, "")}
        data = json.dumps(body).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except BrokenPipeError:  # the client gave up (the timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ruc", httpd
    httpd.shutdown()
    httpd.server_close()


def test_valid_ruc_and_name_then_cached(database, server):
    url, httpd = server
    a = dgi.verify("155587169-2-2014", "09", "Acme Panamá, S.A.", url=url, token="s3cret")
    assert a.valid and a.name_matches and not a.cached
    assert Handler.requests[0][1] == "Bearer s3cret"
    httpd.shutdown()  # the cache answers without the server
    b = dgi.verify("155587169-2-2014", "09", "Acme Panamá, S.A.", url=url)
    assert b.valid and b.cached


def test_name_mismatch_and_unknown(database, server):
    url, _ = server
    a = dgi.verify("155587169-2-2014", "09", "Other Name", url=url)
    assert a.valid and a.name_matches is False and "registered to" in a.message
    b = dgi.verify("8-274-125", "91", "Ana", url=url)
    assert b.valid is False and "does not know" in b.message


def test_timeout_and_no_server_never_raise(database, server):
    url, _ = server
    slow = dgi.verify("SLOW", "00", "", url=url, timeout=1)
    assert slow.valid is None and "did not answer" in slow.message
    down = dgi.verify("8-274-125", "91", "", url="http://127.0.0.1:9/ruc", timeout=1)
    assert down.valid is None
    assert dgi.verify("8-274-125", "91", "", url="").valid is None
