"""`tui-pos --support`: the read-only diagnostics screen a support technician opens over SSH.

It shows what the register is (version, config with secrets masked,
database and its health, printer, scanners, print queue, log, last receipts)
and can do two things: queue a reprint and send a printer test page. It never
sells, never migrates the database, and never grabs a scanner, so it can run
beside the register on the same machine.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from tui_pos.domain.errors import PosError
from tui_pos.screens.dialogs import PromptDialog
from tui_pos.services.connection import worker_connection
from tui_pos.widgets.keybar import KeyBar
from tui_pos.widgets.safety import Guarded

log = logging.getLogger(__name__)

SELLING_KEYS = {"f2", "f3", "f4", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "enter"}   # F5 refreshes here


class SupportScreen(Guarded, Screen):
    """Tabs of facts; F5 reads them again; Ctrl+R reprints; Ctrl+T sends a printer test page."""

    BINDINGS = [
        Binding("f5", "refresh", "Refresh", id="support.refresh"),
        Binding("ctrl+r", "reprint", "Reprint", id="support.reprint", priority=True),
        Binding("ctrl+t", "printer_test", "Printer test", id="support.printer_test", priority=True),
        Binding("ctrl+n", "next_tab", "Next tab", id="support.next_tab", priority=True),
        Binding("ctrl+q", "quit", "Quit", id="support.quit", priority=True),
    ]

    def __init__(self, runtime, log_path: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.log_path = log_path

    def compose(self) -> ComposeResult:
        from tui_pos.services.support import version
        cfg = self.runtime.config
        yield Static(Text(f" SUPPORT MODE (read-only) · {version()} · {cfg.store.name} · register "
                          f"{cfg.store.register}"), id="status-bar")
        with TabbedContent(id="support-tabs"):
            for tab_id, title in (("health", "Health"), ("devices", "Printer & scanners"), ("queue", "Print queue"),
                                  ("receipts", "Receipts"), ("log", "Log"), ("config", "Config")):
                with TabPane(title, id=f"tab-{tab_id}"):
                    with VerticalScroll():
                        yield Static("Reading...", id=f"support-{tab_id}")
        yield Static("", id="message")
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_refresh()

    # ------------------------------------------------------------ reading (all in workers)

    def action_refresh(self) -> None:
        self._read_database()
        self._read_devices()
        self._show_log()
        self._show_config()

    def _set(self, tab: str, lines: list[str]) -> None:
        self.query_one(f"#support-{tab}", Static).update(Text("\n".join(lines) or "(nothing)", no_wrap=True))

    def _show_config(self) -> None:
        from tui_pos.services.support import config_lines
        self._set("config", config_lines(self.runtime.config))

    def _show_log(self) -> None:
        from tui_pos.services.support import log_tail
        lines = log_tail(self.log_path, 200)
        self._set("log", [f"# {self.log_path} (last {len(lines)} lines, newest last)"] + lines)

    @work(thread=True, exit_on_error=False, group="support", name="database")
    def _read_database(self) -> dict:
        from tui_pos.services import printing
        from tui_pos.services.health import database_checks
        from tui_pos.services.support import last_receipts
        cfg = self.runtime.config
        register = cfg.store.register
        with worker_connection():
            return {"checks": database_checks(cfg, cfg.db_url(self.runtime.demo)),
                    "queue": printing.queue(register, limit=50), "waiting": printing.waiting(register),
                    "receipts": last_receipts(register, 20)}

    @work(thread=True, exit_on_error=False, group="support", name="devices")
    def _read_devices(self) -> list:
        from tui_pos.services.health import printer_checks, scanner_checks
        cfg = self.runtime.config
        return printer_checks(cfg) + scanner_checks(cfg)   # looks at the devices, never grabs one

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "support" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        name = event.worker.name
        if event.state == WorkerState.ERROR:
            log.error("support: %s failed", name, exc_info=event.worker.error)
            from tui_pos.services.connection import explain
            said = explain(event.worker.error, self.runtime.config.db_url(self.runtime.demo))
            if name == "database":
                self._set("health", [f"FAIL database: {said}"])
            elif name == "printer-test":
                self.say(f"Printer test failed: {event.worker.error}", error=True)
            else:
                self._set("devices", [f"FAIL {name}: {event.worker.error}"])
            return
        result: Any = event.worker.result
        if name == "database":
            self._set("health", [c.line() for c in result["checks"]])
            money = self.runtime.money
            queue = [f"{result['waiting']} waiting on {self.runtime.config.store.register}"]
            for job in result["queue"]:
                line = f"{job['id']:>6}  {job['receipt_no'] or '':<14} {job['state']:<8} attempts {job['attempts']}"
                if job["state"] == "waiting" and job["last_error"]:
                    line += f"  last error: {job['last_error']}"
                queue.append(line)
            self._set("queue", queue)
            self._set("receipts", [f"{r.receipt_no:<12} {r.closed_at:%Y-%m-%d %H:%M} {r.kind:<6} "
                                   f"{money(r.total_cents):>12}" for r in result["receipts"] if r.closed_at])
        elif name == "devices":
            self._set("devices", [c.line() for c in result])
        elif name == "printer-test":
            self.say(f"Test page sent ({result} bytes).")

    # ------------------------------------------------------------ the two actions

    def action_reprint(self) -> None:
        def answered(number: str | None) -> None:
            if not number:
                return
            try:
                done = self.runtime.sales.reprint(number)
            except PosError as exc:
                self.say(str(exc), error=True)
                return
            self.say(f"{done} queued: the register prints it (support mode does not drive the printer).")
            self._read_database()
        self.app.push_screen(PromptDialog("Reprint a receipt", "Its number", placeholder="R1-000042"), answered)

    def action_printer_test(self) -> None:
        if self.runtime.config.printer.kind == "none":
            self.say("No printer configured ([printer] kind = \"none\").", error=True)
            return
        self.say("Sending a test page...")
        self._printer_test()

    @work(thread=True, exit_on_error=False, group="support", name="printer-test")
    def _printer_test(self) -> int:
        from tui_pos.hardware.printer import make_printer
        from tui_pos.services.printing import test_page
        data = test_page(self.runtime.config)
        make_printer(self.runtime.config.printer).send(data)
        return len(data)

    def action_next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [p.id or "" for p in self.query(TabPane)]
        tabs.active = ids[(ids.index(tabs.active) + 1) % len(ids)]

    def action_quit(self) -> None:
        self.app.exit()

    def on_key(self, event) -> None:
        if event.key in SELLING_KEYS:
            event.stop()
            self.say("Support mode is read-only: it does not sell.", error=True)   # its keys are in the bar

    def say(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#message", Static)
        msg.update(Text(text))
        msg.set_class(error, "error")
