"""Connection storms during sales: the register on PostgreSQL, its connections killed as it sells.

The real app (PosApp, headless through Textual's Pilot) sells on a fresh
PostgreSQL schema and prints to a network printer on 127.0.0.1
(hardware/netprinter_sim.py). While it sells, a killer thread ends the
register's server connections (`pg_terminate_backend`, as issue 28 did) every
BENCH_KILL_MIN..BENCH_KILL_MAX seconds; with BENCH_MODE=cut the network to the
server goes instead (a TCP relay that drops every connection and refuses new
ones for BENCH_OUTAGE seconds). Each sale: a scan, F10, Enter (cash).

Printed, and checked:
  - sales completed, the payments per note (must be 1), lost or doubled;
  - per receipt: originals printed (must be 1), copies, drawer kicks (must be 1);
  - the seconds from Enter to "Paid: receipt ..." on screen (median, worst),
    and, for sales whose connection went, from the server answering again
    (the kill, or the end of the outage) to "Paid";
  - whether the screen ever said "nothing was lost" about a sale that was paid.

    python bench/storm.py   (BENCH_SALES=40, BENCH_MODE=kill|cut, BENCH_KILL_MIN=0.05, BENCH_KILL_MAX=0.4,
                             BENCH_OUTAGE=0.5, BENCH_SEED=1, TUI_POS_TEST_PG)
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

PG = os.environ.get("TUI_POS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SALES = int(os.environ.get("BENCH_SALES", "40"))
MODE = os.environ.get("BENCH_MODE", "kill")
KILL_MIN = float(os.environ.get("BENCH_KILL_MIN", "0.05"))
KILL_MAX = float(os.environ.get("BENCH_KILL_MAX", "0.4"))
OUTAGE = float(os.environ.get("BENCH_OUTAGE", "0.5"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
AT_PAY = os.environ.get("BENCH_AT_PAY", "") == "1"   # one loss per sale, 0..150 ms after its Enter
KICK = b"\x1bp"


def setup_dirs() -> None:
    home = Path(tempfile.mkdtemp(prefix="storm-"))
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(Path(tempfile.gettempdir()) / "escpos-storm"))


class Killer(threading.Thread):
    """Ends the register's connections at random moments while `running` is set."""

    def __init__(self, admin_url: str, proxy=None) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.proxy = admin_url, proxy
        self.rng = random.Random(SEED)
        self.running = threading.Event()
        self.armed = threading.Event()
        self.stop = threading.Event()
        self.events: list[tuple[float, float]] = []   # (went, answered again), monotonic

    def run(self) -> None:
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stop.is_set():
                if AT_PAY:
                    if not self.armed.wait(0.1):
                        continue
                    self.armed.clear()
                    time.sleep(self.rng.uniform(0, 0.15))
                else:
                    time.sleep(self.rng.uniform(KILL_MIN, KILL_MAX))
                    if not self.running.is_set():
                        continue
                went = time.monotonic()
                if self.proxy is None:
                    killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE application_name = 'storm-register'").fetchone()[0]
                    if killed:
                        self.events.append((went, time.monotonic()))
                else:
                    self.proxy.cut()
                    time.sleep(OUTAGE)
                    self.proxy.start()
                    self.events.append((went, time.monotonic()))


async def storm() -> dict:
    import psycopg
    from conftest import TcpProxy

    import tui_pos.services.demo as demo
    from tui_pos.app import PosApp
    from tui_pos.bootstrap import build
    from tui_pos.config import from_dict
    from tui_pos.hardware.netprinter_sim import SimulatedPrinter
    from tui_pos.models import Note, Payment, db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.screens.payment import PaymentScreen

    schema = "storm_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    options = f"options=-c%20search_path%3D{schema}"
    url = f"{PG}?application_name=storm-register&{options}"
    proxy = None
    if MODE == "cut":
        from urllib.parse import urlsplit
        parts = urlsplit(PG)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        url = url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}", 1)
    database = bind(url)
    migrate(database)
    saved, demo.DEMO_USERS = demo.DEMO_USERS, []
    try:
        demo.seed_demo(with_loyalty=False)
    finally:
        demo.DEMO_USERS = saved
    database.close()
    printer = SimulatedPrinter().start()
    cfg = from_dict({"database": {"url": url},
                     "printer": {"kind": "network", "host": "127.0.0.1", "port": printer.port, "timeout": 2}})
    app = PosApp(build(cfg, allow_no_users=True))
    killer = Killer(f"{PG}?{options}", proxy)
    killer.start()
    said: list[tuple[str, str]] = []      # (phase, text): scan | pay (Enter to "Paid") | after (to the next line)
    phase = ["scan"]
    to_paid: list[float] = []
    after_back: list[float] = []
    stuck = 0
    async with app.run_test(size=(100, 30)) as pilot:
        sale = app.screen
        shown = sale.say

        def say(text, *, error=False):
            said.append((phase[0], text))
            shown(text, error=error)
        sale.say = say

        def message() -> str:
            return str(sale.query_one("#message").render())

        async def until(predicate, timeout=30.0) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if predicate():
                    return True
                await pilot.pause(0.01)
            return False

        for n in range(1, SALES + 1):
            number = f"R1-{n:06d}"
            await until(lambda: not app.db_down and app.screen is sale and not sale.next_waiting)
            killer.running.set()
            sale.query_one("#code").value = "ESP"
            await pilot.press("enter")
            await until(lambda: sale.query_one("#lines").row_count >= 1 or app.db_down, timeout=5)
            phase[0] = "scan"
            # the cashier: F10 until the payment opens (the database may be away), Enter, and Enter again
            # only when the screen says nothing was taken
            while not isinstance(app.screen, PaymentScreen):
                await until(lambda: not app.db_down and app.screen is sale and not sale.next_waiting)
                await pilot.press("f10")
                await until(lambda: isinstance(app.screen, PaymentScreen), timeout=2)
            started = time.monotonic()
            phase[0] = "pay"
            killer.armed.set()
            await pilot.press("enter")
            paid = lambda n=number: f"Paid: receipt {n}" in message()   # noqa: E731
            while not await until(paid, timeout=5):
                screen = app.screen
                text = str(screen.query_one("#pay-message").render()) if isinstance(screen, PaymentScreen) else ""
                if time.monotonic() - started > 60:
                    stuck += 1
                    print(f"sale {n}: not shown as paid in 60 s ({type(screen).__name__}: {text!r}; "
                          f"sale: {message()!r})")
                    break
                if isinstance(screen, PaymentScreen) and screen.pending is None and not app.db_down \
                        and "went through" not in text:
                    await pilot.press("enter")     # nothing was taken: take it
            if stuck:
                break
            done = time.monotonic()
            phase[0] = "after"
            to_paid.append(done - started)
            backs = [b for w, b in killer.events if started <= w <= done]
            if backs:
                after_back.append(done - max(backs))
        killer.running.clear()
        await until(lambda: not app.db_down, timeout=30)
        from tui_pos.models.db import reset_connection
        reset_connection()          # this (the UI) thread's connection may have gone unnoticed
        await app.wait_printed(timeout=60)
    killer.stop.set()
    printer.stop()
    if proxy is not None:
        proxy.cut()
        proxy.start()
    # the outcome, read afresh
    bind(url)
    notes = list(Note.select().where(Note.status == "paid", Note.kind == "sale").order_by(Note.seq))
    pays = {n.receipt_no: Payment.select().where(Payment.note == n.id).count() for n in notes}
    db.close()
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
    per: dict[str, list[int]] = {}    # receipt -> [originals, copies, kicks]
    for job in printer.jobs:
        found = re.search(rb"R1-\d{6}", job)
        if not found:
            continue
        entry = per.setdefault(found.group().decode(), [0, 0, 0])
        entry[1 if b"COPY" in job else 0] += 1
        entry[2] += job.count(KICK)
    # "nothing was lost" said from the payment's Enter until the next sale's first line, without the outcome
    guesses = [t for ph, t in said if ph != "scan" and "nothing was lost" in t
               and not t.startswith(("Paid", "Refund"))]
    return {"sales": len(notes), "asked": SALES, "stuck": stuck, "events": len(killer.events),
            "payments": pays, "printed": per, "to_paid": to_paid, "after_back": after_back, "guesses": guesses}


class Errors(logging.Handler):
    """Errors logged while selling (a logged traceback is a bug report on a real register)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:120])


def main() -> None:
    setup_dirs()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    errors = Errors()
    root.addHandler(errors)
    root.setLevel(logging.WARNING)
    r = asyncio.run(storm())
    doubled = {k: v for k, v in r["payments"].items() if v != 1}
    bad_prints = {k: v for k, v in r["printed"].items() if v[0] != 1 or v[2] != 1}
    missing = [k for k in r["payments"] if k not in r["printed"]]
    copies = sum(v[1] for v in r["printed"].values())
    print(f"mode {MODE}: {r['sales']} of {r['asked']} sales paid, {r['events']} connection losses "
          f"({'killed from the server' if MODE == 'kill' else f'{OUTAGE} s network outages'}), {r['stuck']} stuck")
    print(f"payments per note != 1: {doubled or 'none'}")
    print(f"receipts: {len(r['printed'])} printed, {copies} copies; not exactly one original and one drawer kick: "
          f"{bad_prints or 'none'}; never printed: {missing or 'none'}")
    if os.environ.get("BENCH_VERBOSE"):
        print("Enter to Paid, each sale (s):", " ".join(f"{x:.2f}" for x in r["to_paid"]))
    t = sorted(r["to_paid"])
    if t:
        print(f"Enter to 'Paid' on screen: median {statistics.median(t) * 1000:.0f} ms, worst {t[-1] * 1000:.0f} ms")
    b = sorted(r["after_back"])
    if b:
        print(f"{len(b)} sales lost the connection: server answering again to 'Paid': median "
              f"{statistics.median(b) * 1000:.0f} ms, worst {b[-1] * 1000:.0f} ms")
    print(f"'nothing was lost' said without the sale's outcome: {len(r['guesses'])}")
    print(f"errors logged: {len(errors.messages)} {sorted(set(errors.messages))[:5]}")
    ok = not doubled and not bad_prints and not missing and not r["guesses"] and not r["stuck"] \
        and not errors.messages
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
