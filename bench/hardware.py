"""Scan-to-line with the printer busy: evdev codes and keyboard-wedge bursts, in one run.

The real register runs in a pty (120x40) on a 500-line note. Its scanner is a
named pipe carrying raw evdev input events (`[scanner] devices = [FIFO]`, read
by evdev's own async reader, one message per decoded code). Its printer is a
simulated network printer on 127.0.0.1 that answers its status queries after
20 ms, with 300 receipts queued, so the spooler is sending the whole time.
Scans alternate between the two paths:

  evdev: the key events of a 13-digit EAN + Enter written to the FIFO in one go
  wedge: the same characters + Enter typed into the terminal in one burst

and each is timed until the new line's text is painted on the terminal.
Target: evdev p99 <= 25 ms on the 500-line note, the printer busy printing.

    python bench/hardware.py          (BENCH_SCANS, default 60 per path)
"""

from __future__ import annotations

import os
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from ptyrun import PtyApp  # noqa: E402
from run_all import APP_MARKER, ean13, make_store, ms, pct, ready, tui_pos_argv  # noqa: E402

SCANS = int(os.environ.get("BENCH_SCANS", "60"))
QUEUED = 300


def main() -> None:
    from tui_pos.hardware.evpipe import PipeScanner
    from tui_pos.hardware.netprinter_sim import SimulatedPrinter

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = make_store(root, 500)
        printer = SimulatedPrinter(latency=0.02).start()
        fifo = root / "scanner.fifo"
        os.mkfifo(fifo)
        writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # held open: the scanner stays "plugged"
        cfg = Path(env["TUI_POS_CONFIG"])
        cfg.write_text(cfg.read_text() + f'[printer]\nkind = "network"\nhost = "127.0.0.1"\nport = {printer.port}\n'
                       f'timeout = 2\n[scanner]\ndevices = ["{fifo}"]\n')
        _queue_receipts(cfg)
        keys = PipeScanner()

        app = PtyApp(tui_pos_argv(), env)
        evdev_times, wedge_times = [], []
        try:
            ready(app, APP_MARKER)   # signed in
            app.read_until(b"Scanner ready")
            settle(app, 0.5)
            printed_before = len(printer.jobs)
            started = time.perf_counter()
            for k in range(SCANS * 2):
                item = 600 + k
                code = ean13(item)
                offset = len(app.buffer)
                if k % 2 == 0:
                    os.write(writer, keys.events_for(code))
                    evdev_times.append(app.read_until(f"Item {item:04d}".encode(), since=offset))
                else:
                    app.write((code + "\r").encode())
                    wedge_times.append(app.read_until(f"Item {item:04d}".encode(), since=offset))
                settle(app, 0.05)
            elapsed = time.perf_counter() - started
            printed = len(printer.jobs) - printed_before
            log = Path(env["XDG_DATA_HOME"]) / "tui-pos" / "tui-pos.log"
            if os.environ.get("BENCH_DEBUG") and log.exists():
                print(log.read_text()[-3000:])
        finally:
            app.close()
            os.close(writer)
            printer.stop()

        print(f"== scan-to-line, 500-line note, printer busy ({QUEUED} receipts queued, 20 ms status answers) ==")
        for label, times in (("evdev (FIFO)", evdev_times), ("keyboard wedge", wedge_times)):
            print(f"{label:>15}: {len(times)} scans  median {ms(statistics.median(times))}  "
                  f"p99 {ms(pct(times, 99))}  max {ms(max(times))}")
        print(f"receipts printed during the {elapsed:.1f} s of scanning: {printed} "
              f"(the spooler was sending throughout)")
        print(f"target: evdev p99 <= 25 ms -> {'met' if pct(evdev_times, 99) <= 0.025 else 'NOT met'}")


def settle(app: PtyApp, seconds: float) -> None:
    """Read output for a fixed time (the status line changes with every receipt printed,
    so waiting for silence would wait for the whole queue)."""
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        ready, _, _ = select.select([app.fd], [], [], left)
        if ready:
            try:
                app.buffer += os.read(app.fd, 65536)
            except OSError:
                return


def _queue_receipts(cfg: Path) -> None:
    """One paid sale, and QUEUED copies of its receipt waiting for the printer."""
    import tomllib

    from tui_pos.models import PrintJob, db
    from tui_pos.models.db import bind
    from tui_pos.services.sales import SaleService
    url = tomllib.loads(cfg.read_text())["database"]["url"]
    bind(url)
    sales = SaleService("R1")
    big_note = sales.open_note()        # the 500-line note waits, parked, while one sale is made
    sales.park(big_note, "bench")
    note = sales.open_note()
    sales.add_item(note, ean13(1))
    number = sales.pay(note).receipt_no
    sales.resume(big_note)
    with db.atomic():
        PrintJob.insert_many([{"register": "R1", "receipt_no": number, "reprint": True}] * QUEUED).execute()
    db.close()


if __name__ == "__main__":
    main()
