"""The customer portal's benchmark (`make bench`, or `python bench/portal.py`); issue 21's figure.

Account page served, p99 <= 50 ms, with BENCH_PORTAL_CUSTOMERS customers (default 1,000,000, written in bulk
as bench/customers.py does) and one customer with BENCH_PORTAL_RECEIPTS receipts (default 500, real sales
through SaleService), on SQLite. The portal runs as `tui-pos portal` runs it (uvicorn, one process); the
page is fetched over HTTP on one keep-alive connection, BENCH_PORTAL_REQUESTS times (default 300).

Not measured here yet: a register's scan-to-line while the portal serves 50 requests/s (a later session).
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

CUSTOMERS = int(os.environ.get("BENCH_PORTAL_CUSTOMERS", "1000000"))
RECEIPTS = int(os.environ.get("BENCH_PORTAL_RECEIPTS", "500"))
REQUESTS = int(os.environ.get("BENCH_PORTAL_REQUESTS", "300"))
TARGET_P99_MS = 50.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def build(db_path: Path) -> tuple[int, float, float]:
    """The database: customers in bulk, the demo catalogue and program, one customer's receipts."""
    import customers as bulk  # bench/customers.py

    bulk.N = CUSTOMERS
    made_customers = bulk.generate(db_path)
    from tui_pos.models.db import bind
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo
    from tui_pos.services.sales import SaleService
    database = bind(f"sqlite:///{db_path}")
    database.connect(reuse_if_open=True)
    seed_demo(with_loyalty=True)
    ana = customers.create({"name": "Ana Bench", "mobile": "6999-9999", "email": "ana@example.com"}, region="PA")
    loyalty.opening_balance(ana.id, 400)
    shop = SaleService("R1", store_name="Bench Store")
    t0 = time.perf_counter()
    for i in range(RECEIPTS):
        note = shop.open_note()
        for code in (("CAPP", "ESP") if i % 2 else ("CROI",)):
            shop.add_item(note, code)
        shop.attach_customer(note, ana.id)
        shop.pay(note, "cash", 5000)
    made_sales = time.perf_counter() - t0
    database.close()
    return ana.id, made_customers, made_sales


def serve(db_path: Path, secret: str) -> tuple[str, int, object]:
    import uvicorn

    from tui_pos.models.db import bind
    from tui_pos.portal.app import create_app
    from tui_pos.services import portal
    bind(f"sqlite:///{db_path}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = portal.Settings(secret=secret, store="Bench Store")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, access_log=False,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return "127.0.0.1", port, server


def main() -> int:
    secret = "bench-secret"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_DATA_HOME", str(Path(tmp) / "xdg"))
        db_path = Path(tmp) / "portal.db"
        customer_id, made_customers, made_sales = build(db_path)
        print(f"portal: {CUSTOMERS:,} customers in {made_customers:.1f} s; {RECEIPTS} receipts for one customer "
              f"in {made_sales:.1f} s")
        from tui_pos.models import Customer
        from tui_pos.services import portal
        host, port, server = serve(db_path, secret)
        code = Customer.get_by_id(customer_id).code
        token = portal.new_token(code, portal.Settings(secret=secret))
        conn = http.client.HTTPConnection(host, port, timeout=10)
        times: list[float] = []
        size = 0
        for i in range(REQUESTS + 20):
            t0 = time.perf_counter()
            conn.request("GET", f"/a/{token}")
            response = conn.getresponse()
            body = response.read()
            took = time.perf_counter() - t0
            assert response.status == 200, response.status
            size = len(body)
            if i >= 20:                     # the first requests warm the imports and the caches
                times.append(took * 1000)
        conn.close()
        server.should_exit = True            # type: ignore[attr-defined]
        p99 = pct(times, 99)
        print(f"portal: account page ({size // 1024} KiB, {min(RECEIPTS, portal.RECEIPTS_SHOWN)} receipts shown) "
              f"over HTTP, {len(times)} requests: p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms, "
              f"p99 {p99:.1f} ms, max {max(times):.1f} ms (target p99 <= {TARGET_P99_MS:.0f} ms: "
              f"{'met' if p99 <= TARGET_P99_MS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
