"""The register app: wires screens to the runtime built in bootstrap."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual import events, on, work
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from tui_pos.bootstrap import Runtime
from tui_pos.hardware.wedge import WedgeFilter
from tui_pos.models import db
from tui_pos.models.db import reset_connection, safe_url, worker_connection
from tui_pos.screens.gate import ask_approval
from tui_pos.screens.login import LoginScreen
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import audit, users
from tui_pos.services.connection import is_connection_error
from tui_pos.widgets.calls import SHORT, database_lost_everywhere, in_worker
from tui_pos.widgets.devices import (
    DatabaseBack,
    DeviceLine,
    DeviceStatus,
    Scanned,
    ScanTooLong,
    WentOffline,
)
from tui_pos.widgets.safety import Guarded, report_bug

if TYPE_CHECKING:
    from textual.driver import Driver
    from textual.timer import Timer

    from tui_pos.hardware.scanner import ScannerHub
    from tui_pos.services.dgi import DgiAnswer
    from tui_pos.services.printing import SpoolResult

log = logging.getLogger(__name__)

SCANNER_WORDS = {"gone": "Scanner GONE", "missing": "Scanner NOT FOUND", "denied": "Scanner NO PERMISSION",
                 "busy": "Scanner BUSY"}


def _styled(app: SupportApp | PosApp, setting: str) -> list:
    """CSS files and the theme for `[ui] theme` (console glyphs on the Linux console); call before App.__init__."""
    from pathlib import Path

    from tui_pos.widgets.console import CONSOLE_CSS, theme_for, use_console_glyphs
    theme = theme_for(setting)
    css = [Path(__file__).with_name("app.tcss")]
    if theme == "console":
        css.append(CONSOLE_CSS)   # borders from glyphs the console fonts have
    use_console_glyphs(theme == "console")
    app._wanted_theme = theme
    return css


def _driver_class() -> type[Driver] | None:
    """On Linux, the driver that hands keys over a burst at a time (widgets/keyboard.py); else Textual's."""
    import sys
    if sys.platform.startswith("linux"):
        from tui_pos.widgets.keyboard import BatchingLinuxDriver
        return BatchingLinuxDriver
    return None


def _apply_theme(app: SupportApp | PosApp) -> None:
    from tui_pos.widgets.console import CONSOLE
    app.register_theme(CONSOLE)
    try:
        app.theme = app._wanted_theme
    except Exception:  # noqa: BLE001 - InvalidThemeError: an unknown name in [ui] theme
        log.warning("unknown [ui] theme %r; using textual-dark", app._wanted_theme)
        app.theme = "textual-dark"


class SupportApp(Guarded, App):
    """`tui-pos --support`: diagnostics only; see screens/support.py."""

    TITLE = "tui-pos support"
    ENABLE_COMMAND_PALETTE = False
    _wanted_theme: str   # `[ui] theme`, set by _styled before App.__init__

    def __init__(self, runtime: Runtime, log_path: str = "") -> None:
        super().__init__(css_path=_styled(self, runtime.config.ui.theme))
        _apply_theme(self)
        self.runtime = runtime
        self.log_path = log_path

    def on_mount(self) -> None:
        from tui_pos.screens.support import SupportScreen
        self.push_screen(SupportScreen(self.runtime, self.log_path))

    def _handle_exception(self, error: Exception) -> None:
        if self.is_headless:
            super()._handle_exception(error)
            return
        report_bug(self, error)


class PosApp(Guarded, App):
    """tui-pos."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-pos"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True, id="app.quit")]
    _wanted_theme: str   # as SupportApp's

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(css_path=_styled(self, runtime.config.ui.theme), driver_class=_driver_class())
        _apply_theme(self)
        self.runtime = runtime
        self.set_keymap(runtime.config.keys)   # [keys]: the user's keys, by binding id (tui_pos/userkeys.py)
        self.user: users.Person | None = None
        self.printed: list[str] = []  # receipt numbers sent to the printer (for support and tests)
        self.dgi_answers: list = []   # answers of the online RUC check, newest last
        self.scans: list[tuple[str, str]] = []  # codes scanned (code, source), for support and tests
        self.printer_state: SpoolResult | None = None     # the spooler's last pass
        self.scanner_hub: ScannerHub | None = None
        self._draining = False
        self._drain_again = False
        self._printer_retry: Timer | None = None
        self.db_down = False          # a lost database connection, being retried
        self.offline = runtime.sales.offline   # the replica and journal (issue 24; None on SQLite)
        self.selling_offline = False  # selling on the replica while the server is away
        self.switching = False        # a note is being carried between the server and the replica
        self._app_db_calls: dict[Worker, Callable[[Any], object] | None] = {}   # run_db's workers and their `done`
        self._wedge_timer = False     # a wedge tick is pending
        cfg = runtime.config.scanner
        self.wedge: WedgeFilter | None = (WedgeFilter(cfg.wedge_gap_ms / 1000, cfg.wedge_min_length)
                                          if cfg.wedge else None)

    def on_mount(self) -> None:
        cfg = self.runtime.config
        self._start_scanners()
        self._drain_printer()  # receipts left waiting by the last run print now
        self._start_messages()
        self._start_fiscal()
        if self.offline is not None:
            if self.offline.active:      # started while the server was away (bootstrap): probe for it
                self.selling_offline = True
                self.notify("The server cannot be reached: selling OFFLINE on this register's copy. Sales are "
                            "sent when it is back.", severity="warning", timeout=8)
                self._probe_database()
            self.set_interval(self.offline.settings.refresh_every, self._replica_cycle)
            self.set_interval(1.0, self._offline_tick)
            self._replica_cycle()      # builds the replica on the first start
        if users.users_exist():
            self.push_screen(LoginScreen(cfg.store.name, cfg.store.register))
        else:
            self.push_screen(self.sale_screen(None))

    @on(LoginScreen.SignedIn)
    def _signed_in(self, event: LoginScreen.SignedIn) -> None:
        self.user = event.person
        person, register = event.person, self.runtime.sales.register_code
        self.run_db(lambda: audit.record("user.sign_in", user_id=person.id, register=register), name="sign-in-audit")
        self.switch_screen(self.sale_screen(event.person))

    def sale_screen(self, person: users.Person | None) -> SaleScreen:
        """The sale screen for `person`, given what it needs (nothing reached through the app)."""
        rt = self.runtime
        return SaleScreen(rt.sales, rt.money, person, rt.config.store.phone_region, keys=rt.config.keys,
                          has_drawer=rt.printer.has_drawer, messaging=rt.messages.settings, day=rt.day,
                          max_adjustment=rt.config.loyalty.max_adjustment)

    # ------------------------------------------------------------ customer messages

    FISCAL_EVERY = 1.0
    MESSAGES_EVERY = 15.0          # seconds between two passes of the outbox
    TRIGGERS_EVERY = 600.0         # seconds between two looks for birthdays and expiring points

    def _start_messages(self) -> None:
        """With a channel configured, send the outbox in a worker every MESSAGES_EVERY seconds (never on
        the key path: a sale only writes a row) and run the time-based triggers now and then."""
        self.message_sender = self.runtime.messages     # built in bootstrap
        self.message_result = None
        self._triggers_at: float | None = None     # never yet: the first pass looks
        self._recovered = False
        if not self.message_sender.ready_channels():
            return
        self.set_interval(self.MESSAGES_EVERY, self.send_messages)
        self.set_timer(2.0, self.send_messages)

    def send_messages(self) -> None:
        if getattr(self, "message_sender", None) is not None and self.message_sender.ready_channels():
            self._send_messages()

    @work(thread=True, exclusive=True, exit_on_error=False, group="messages-send", name="messages-send")
    def _send_messages(self):
        from tui_pos.services import messaging
        sender = self.message_sender
        if not self._recovered:
            sender.recover()
            self._recovered = True
        if sender.settings.triggers == "register" and (self._triggers_at is None or
                                                       time.monotonic() - self._triggers_at > self.TRIGGERS_EVERY):
            self._triggers_at = time.monotonic()
            with worker_connection():
                messaging.run_triggers(sender.settings)
        self.message_result = sender.send_due()
        return self.message_result

    # ------------------------------------------------------------ electronic invoices

    def _start_fiscal(self) -> None:
        """With `[fiscal] mode = "fe"`, send the fiscal outbox in a worker (docs/fiscal.md): at once when a
        sale completes, and every FISCAL_EVERY seconds for what waits (retries, contingency documents)."""
        self._fiscal_busy = False
        settings = self.runtime.sales.fiscal
        if settings is None:
            return
        self._fiscal_provider = settings.provider()
        self.set_interval(self.FISCAL_EVERY, self.send_fiscal)

    def send_fiscal(self) -> None:
        if self.runtime.sales.fiscal is None or self._fiscal_busy:
            return
        self._fiscal_busy = True
        self._send_fiscal()

    @work(thread=True, exit_on_error=False, group="fiscal", name="fiscal-send")
    def _send_fiscal(self) -> dict[str, int]:
        from tui_pos.services import fiscal
        try:
            with worker_connection():
                return fiscal.send_due(self.runtime.sales.fiscal, self._fiscal_provider,
                                       register=self.runtime.sales.register_code)   # its own, not the others'

        except Exception:        # the database away, a bug: logged; the rows wait for the next pass
            log.exception("the fiscal outbox could not be sent")
            return {}
        finally:
            self._fiscal_busy = False

    # ------------------------------------------------------------ printing

    def receipt_queued(self) -> None:
        """A sale or refund queued its receipt (in its own transaction): send it now (and its DGI document,
        which the receipt waits for)."""
        self.send_fiscal()
        self._drain_printer()

    def reprint(self, receipt_no: str) -> str:
        """Queue a copy of a receipt by number; raises PosError with a message for the cashier."""
        number = self.runtime.sales.reprint(receipt_no)
        self._drain_printer()
        return number

    def _drain_printer(self) -> None:
        """Start the one sender thread, or ask the running one to look again when it ends."""
        if self.runtime.spooler is None:
            return
        if self._printer_retry is not None:
            self._printer_retry.stop()
            self._printer_retry = None
        if self._draining:
            self._drain_again = True
            return
        self._draining = True
        self._drain_again = False
        self._send_queue()

    @work(thread=True, exit_on_error=False, group="printer", name="print")
    def _send_queue(self) -> SpoolResult:
        """Send waiting receipts in order until the queue is empty or the printer fails."""
        spooler = self.runtime.spooler
        assert spooler is not None   # started by _drain_printer, only with a spooler
        while True:
            result = spooler.send_next()
            if result.sent is not None:
                self.call_from_thread(self._printed, result)
            if result.sent is None or result.retry_in is None or get_current_worker().is_cancelled:
                return result

    def _printed(self, result: SpoolResult) -> None:
        assert result.sent is not None   # called for a printed job only
        self.printed.append(result.sent.receipt_no)
        self._printer_result(result)

    def _printer_result(self, result: SpoolResult) -> None:
        before = self.printer_state
        self.printer_state = result
        if result.failed is not None and (before is None or before.failed is None):
            self._printer_problem(result.error)
        elif result.failed is None and before is not None and before.failed is not None:
            self.notify("The printer is back: waiting receipts are printing.", timeout=5)
        self._show_devices()

    def _drained(self, event: Worker.StateChanged) -> None:
        self._draining = False
        if event.state == WorkerState.SUCCESS:
            result = cast("SpoolResult", event.worker.result)
            self._printer_result(result)
            if self._drain_again:
                self._drain_printer()
            elif result.retry_in:
                self._printer_retry = self.set_timer(result.retry_in, self._retry_printer)
        elif event.state == WorkerState.ERROR:
            from tui_pos.models.db import is_connection_error
            if is_connection_error(event.worker.error):
                self.database_lost()  # the queue goes on when the database is back
                return
            log.error("print queue failed: %s", event.worker.error, exc_info=event.worker.error)
            self._printer_problem(f"the print queue stopped ({type(event.worker.error).__name__}); logged")
            self._printer_retry = self.set_timer(5, self._retry_printer)

    def _retry_printer(self) -> None:
        self._printer_retry = None
        self._drain_printer()

    def _printer_problem(self, detail: str) -> None:
        text = f"Printer problem: {detail}. The sale is saved; the receipt prints when the printer is back."
        self.notify(text, severity="error", timeout=10)
        if isinstance(self.screen, SaleScreen):
            self.screen.say(text, error=True)

    async def wait_printed(self, timeout: float = 10.0) -> None:
        """Until the queue is empty and the sender is idle (tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._draining or (self.runtime.spooler is not None and self._queue_waiting()):
            if loop.time() > end:
                raise TimeoutError("receipts still waiting for the printer")
            await asyncio.sleep(0.01)

    def _queue_waiting(self) -> int:
        from tui_pos.services import printing
        return printing.waiting(self.runtime.sales.register_code)

    def open_drawer(self, approver_id: int | None) -> None:
        """A manager opens the cash drawer (audited); the kick goes out from a worker."""
        self._kick_drawer(self.user.id if self.user else None, approver_id)

    # ------------------------------------------------------------ the app's own database calls

    def run_db(self, call: Callable[[], Any], done: Callable[[Any], object] | None = None, *,
               name: str = "app-db") -> None:
        """The app's equivalent of the screens' `DatabaseCalls.run_db`: `call` in a thread worker (group
        "app-db"), `done(result)` back on the UI loop; a failure is handled in `_app_db_done`."""
        worker = self.run_worker(lambda: in_worker(call), thread=True, exit_on_error=False, group="app-db",
                                 name=name)
        self._app_db_calls[worker] = done

    def _app_db_done(self, event: Worker.StateChanged) -> None:
        """The one handler of the app's database calls: the result, or what its failure means."""
        done = self._app_db_calls.pop(event.worker, None)
        if event.state == WorkerState.SUCCESS:
            if done is not None:
                done(event.worker.result)
            return
        error = event.worker.error
        if is_connection_error(error):
            self.database_lost()
            return
        log.error("unexpected error in %s", event.worker.name, exc_info=error)
        self.notify(SHORT, severity="error", timeout=8)

    @work(thread=True, exit_on_error=False, group="drawer", name="drawer")
    def _kick_drawer(self, user_id: int | None, approver_id: int | None) -> str:
        """In one thread worker: the opening's record (on this thread's connection), then the kick."""
        from tui_pos.hardware.printer import drawer_kick_bytes
        from tui_pos.services import printing
        register = self.runtime.sales.register_code
        in_worker(lambda: printing.record_drawer_open(register, user_id, approver_id))
        self.runtime.printer.send(drawer_kick_bytes(self.runtime.config.printer.profile))
        return "ok"

    # ------------------------------------------------------------ scanners

    def _start_scanners(self) -> None:
        self.scanner_hub = self.runtime.scanners(self._evdev_code, self._scanner_state)   # built in bootstrap
        if self.scanner_hub is None:
            return
        self.run_worker(self.scanner_hub.run(), group="scanner", name="scanner", exit_on_error=False)

    def _evdev_code(self, code: str, device: str) -> None:
        self.deliver_scan(code, device)

    def _scanner_state(self, state) -> None:
        gone = state.state != "ready"
        if gone:
            self.notify(f"Scanner {state.state}: {state.detail}. The keyboard still works.",
                        severity="warning", timeout=6)
        self._show_devices()

    def deliver_scan(self, code: str, source: str) -> None:
        """One message per code, to the screen on top: it decides what the code means."""
        self.scans.append((code, source))
        self.screen.post_message(Scanned(code, source))

    @on(Scanned)
    async def _unclaimed_scan(self, event: Scanned) -> None:
        """No screen took the code: type it into the focused field and press Enter."""
        focused = self.focused
        if isinstance(focused, Input):
            focused.insert_text_at_cursor(event.code)
            await focused.action_submit()
        elif isinstance(focused, TextArea):
            focused.insert(event.code + "\n")  # typed that fast into an editor: it was text all the same
        else:
            self.notify(f"Scanned {event.code}: nothing here takes a code.", severity="warning", timeout=4)

    # ------------------------------------------------------------ keyboard-wedge scanners

    async def on_event(self, event: events.Event) -> None:
        wedge = self.wedge
        if wedge is None or not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        if event.key == "enter":
            outcome = wedge.enter(event, event.time)
        elif event.is_printable and event.character and len(event.character) == 1 and "ctrl" not in event.key:
            outcome = wedge.char(event, event.character, event.time)
        else:
            outcome = wedge.other(event)
        for held in outcome.release:
            await super().on_event(held)
        if outcome.scan:
            self.deliver_scan(outcome.scan, "keyboard")
        if outcome.dropped:
            self.screen.post_message(ScanTooLong("keyboard", wedge.max_length, outcome.dropped))
        if outcome.too_long:
            self.screen.post_message(ScanTooLong("keyboard", wedge.max_length))
        if wedge.holding and not self._wedge_timer:
            # one timer at a time: a 20,000-key burst set one per key and kept the register busy for minutes
            self._wedge_timer = True
            self.set_timer(wedge.gap + 0.001, self._wedge_tick)

    async def _wedge_tick(self) -> None:
        """A held burst stopped without Enter: it was typing; let it through."""
        from textual._time import get_time
        self._wedge_timer = False
        wedge = self.wedge
        assert wedge is not None   # the tick is set only by the wedge
        outcome = wedge.tick(get_time())
        for held in outcome.release:
            await super().on_event(held)
        if outcome.dropped:
            self.screen.post_message(ScanTooLong("keyboard", wedge.max_length, outcome.dropped))
        if wedge.holding:
            self._wedge_timer = True
            self.set_timer(wedge.gap + 0.001, self._wedge_tick)

    @on(ScanTooLong)
    def _unclaimed_too_long(self, event: ScanTooLong) -> None:
        if event.dropped:
            self.notify(f"A burst of {event.dropped} keys, longer than any code ({event.limit}), was dropped.",
                        severity="warning", timeout=4)

    # ------------------------------------------------------------ a lost database connection

    PROBE_EVERY = 0.25   # seconds between two tries of a lost database: a waiting payment is answered within
    #                      a second of the server answering again (issue 28)

    def database_lost(self) -> None:
        """A service call found the database unreachable: say so, keep everything, retry every PROBE_EVERY s.
        A register with a replica goes on selling on it (docs/offline.md)."""
        if self.db_down or self.selling_offline:
            return
        if self.offline is not None and self.offline.go_offline():
            self.selling_offline = self.switching = True
            database_lost_everywhere()
            log.warning("server unreachable: %s; selling offline",
                        safe_url(self.runtime.config.db_url(self.runtime.demo)))
            self.notify("The server cannot be reached: selling OFFLINE. Sales are kept on this register and "
                        "sent when it is back.", severity="warning", timeout=8)
            self._show_devices()
            for screen in self.screen_stack:
                screen.post_message(WentOffline())
            self._probe_database()
            return
        self.db_down = True
        database_lost_everywhere()   # every worker thread drops its connection before its next call
        log.warning("database unreachable: %s", safe_url(self.runtime.config.db_url(self.runtime.demo)))
        reset_connection()
        self.notify("The database cannot be reached. Keep going: the note and what you type are kept, "
                    "and saved when it is back.", severity="error", timeout=8)
        self._show_devices()
        self._probe_database()

    @work(thread=True, exit_on_error=False, exclusive=True, group="db-probe", name="db-probe")
    def _probe_database(self) -> bool:
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                if self.selling_offline and self.offline is not None:
                    # the server, not the replica the register sells on; a new connection each try
                    with db.routed(self.offline.server, fresh=True):
                        db.execute_sql("SELECT 1")
                    return True
                with worker_connection():
                    db.execute_sql("SELECT 1")
                return True
            except Exception:  # noqa: BLE001 - still down: try again shortly
                time.sleep(self.PROBE_EVERY)
        return False

    # ------------------------------------------------------------ selling offline (issue 24)

    offline_pending = 0      # sales in the journal, for the header

    @work(thread=True, exit_on_error=False, exclusive=True, group="sync-back", name="sync-back")
    def _sync_back(self) -> tuple[object, int]:
        """The server answers again: the journal goes first, while the register still sells offline. With the
        report, what is still pending (read here, in the worker: the replica is a file, not the UI loop's)."""
        assert self.offline is not None
        return self.offline.sync(), self.offline.state().pending

    def _back_online(self, result: object) -> None:
        assert self.offline is not None
        report, pending = cast("tuple[object, int]", result)
        if pending:        # sold (or made a customer) while the sync ran: those too
            self._sync_back()
            return
        self.offline.go_online()
        self.selling_offline = False
        self.switching = True
        database_lost_everywhere()
        sent = getattr(report, "sales", 0) + getattr(report, "returns", 0)
        problems = getattr(report, "discrepancies", 0)
        log.warning("server reachable again; %s offline sales sent", sent)
        self.notify(f"The server is back: {sent} offline sale{'' if sent == 1 else 's'} sent"
                    + (f", {problems} discrepancies for the manager (tui-pos sync --problems)." if problems else ".")
                    , timeout=6)
        self.offline_pending = 0
        self._show_devices()
        for screen in self.screen_stack:
            screen.post_message(DatabaseBack())
        self._drain_printer()

    @work(thread=True, exit_on_error=False, exclusive=True, group="replica", name="replica")
    def _replica_cycle(self) -> object:
        if self.offline is None or self.selling_offline:
            return None
        return self.offline.cycle()

    def sync_soon(self) -> None:
        """Send the journal now (a sale completed on the replica just as the server came back)."""
        self._replica_cycle()

    def _offline_tick(self) -> None:
        if self.selling_offline:
            self._count_pending()

    @work(thread=True, exit_on_error=False, exclusive=True, group="offline-tick", name="offline-tick")
    def _count_pending(self) -> int:
        assert self.offline is not None
        return self.offline.pending_sales()

    def database_back(self) -> None:
        self.db_down = False
        reset_connection()  # this thread's broken connection; the next query opens a new one
        database_lost_everywhere()   # and each worker thread's, opened before or while it was down
        log.warning("database reachable again")
        self.notify("The database is back: what was kept is being saved.", timeout=5)
        self._show_devices()
        for screen in self.screen_stack:
            screen.post_message(DatabaseBack())
        self._drain_printer()

    # ------------------------------------------------------------ the status line

    def device_line(self) -> DeviceLine:
        printer = scanner = ""
        printer_bad = scanner_bad = False
        if self.runtime.spooler is not None:
            r = self.printer_state
            if r is None or (r.failed is None and r.state == "ready"):
                printer = "Printer ready"
            elif r.failed is None:
                printer = f"Printer {r.state}"
            else:
                printer, printer_bad = f"Printer {r.state.upper()}", True
            if r is not None and r.waiting:
                printer += f", {r.waiting} waiting"
        if self.scanner_hub is not None and self.scanner_hub.states:
            states = list(self.scanner_hub.states.values())
            ready = [s for s in states if s.ok]
            if len(ready) == len(states):
                scanner = "Scanner ready"
            else:
                bad = next(s for s in states if not s.ok)
                scanner, scanner_bad = SCANNER_WORDS.get(bad.state, f"Scanner {bad.state.upper()}"), True
        return DeviceLine(printer, printer_bad, scanner, scanner_bad, self.db_down,
                          self.offline_pending if self.selling_offline else None)

    def _show_devices(self) -> None:
        line = self.device_line()
        for screen in self.screen_stack:
            for widget in screen.query(DeviceStatus):
                widget.show(line)

    # ------------------------------------------------------------ the online RUC check

    def check_ruc(self, ruc: str, dv: str, fiscal_name: str) -> None:
        """Start the optional DGI check in the background (never blocks the register)."""
        if self.runtime.config.dgi.url and ruc:
            self._check_ruc(ruc, dv, fiscal_name)

    @work(thread=True, exit_on_error=False, group="dgi", name="dgi")
    def _check_ruc(self, ruc: str, dv: str, fiscal_name: str) -> DgiAnswer:
        from tui_pos.services import dgi
        cfg = self.runtime.config.dgi
        return dgi.verify(ruc, dv, fiscal_name, url=cfg.url, token=cfg.token, timeout=cfg.timeout)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if group == "app-db" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._app_db_done(event)
        elif group == "dgi":
            self._dgi_done(event)
        elif group == "printer" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._drained(event)
        elif group == "db-probe" and event.state == WorkerState.SUCCESS and event.worker.result:
            if self.selling_offline:
                self._sync_back()
            else:
                self.database_back()
        elif group == "sync-back" and event.state == WorkerState.SUCCESS:
            self._back_online(event.worker.result)
        elif group == "sync-back" and event.state == WorkerState.ERROR:
            log.warning("sync after the server came back failed: %s", event.worker.error)
            self._probe_database()     # still selling offline; tried again when the server answers
        elif group == "replica" and event.state == WorkerState.ERROR:
            if is_connection_error(event.worker.error):
                self.database_lost()     # found while idle: the register goes offline before the next scan
            else:
                log.error("replica refresh failed: %s", event.worker.error, exc_info=event.worker.error)
        elif group == "offline-tick" and event.state == WorkerState.SUCCESS:
            pending = cast(int, event.worker.result)
            if pending != self.offline_pending:
                self.offline_pending = pending
                self._show_devices()
        elif group == "drawer" and event.state == WorkerState.ERROR and is_connection_error(event.worker.error):
            self.database_lost()      # the opening could not be recorded: the drawer stays shut
        elif group == "drawer" and event.state == WorkerState.ERROR:
            log.error("drawer kick failed: %s", event.worker.error)
            self.notify(f"The drawer did not open: {event.worker.error}", severity="error", timeout=8)
        elif group == "scanner" and event.state == WorkerState.ERROR:
            log.error("scanner reader stopped", exc_info=event.worker.error)
            self.notify("The scanner reader stopped (logged); the keyboard still works.", severity="error")

    def _dgi_done(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            answer = cast("DgiAnswer", event.worker.result)
            self.dgi_answers.append(answer)
            bad = answer.valid is False or answer.name_matches is False
            self.notify(answer.message, title="DGI check", severity="warning" if bad else "information",
                        timeout=8)
        elif event.state == WorkerState.ERROR:
            log.error("DGI check failed: %s", event.worker.error)

    # ------------------------------------------------------------ the safety net

    def _handle_exception(self, error: Exception) -> None:
        """A bug must not put a traceback on the cashier's screen or close the register.

        Every change is already saved by the service that made it, so the
        register logs the error and carries on. Headless runs (tests) keep
        Textual's behaviour, so that a bug fails the test that found it.
        """
        from tui_pos.models.db import is_connection_error
        if is_connection_error(error):
            self.database_lost()
            return
        if self.is_headless:
            super()._handle_exception(error)
            return
        report_bug(self, error)   # a loop outside the Guarded classes (a widget's own): logged, said briefly

    # ------------------------------------------------------------ quitting

    def sign_out(self) -> None:
        """Another cashier takes the till: back to the PIN prompt (audited). The open note stays; it becomes
        the next cashier's when they sign in (empty) or when they take its payment."""
        user_id, register = self.user.id if self.user else None, self.runtime.sales.register_code

        def signed_out(any_users: bool) -> None:
            if not any_users:
                return
            self.run_db(lambda: audit.record("user.sign_out", user_id=user_id, register=register), name="sign-out")
            self.user = None
            cfg = self.runtime.config
            self.switch_screen(LoginScreen(cfg.store.name, cfg.store.register))
        if self.user is not None:     # someone signed in: the register has users; the PIN prompt at once
            signed_out(True)
            return
        self.run_db(users.users_exist, signed_out, name="sign-out-users")

    def action_request_quit(self) -> None:
        user_id, register = self.user.id if self.user else None, self.runtime.sales.register_code

        def approved(manager: users.Person | None) -> None:
            approver = manager.id if manager else None
            self.run_db(lambda: audit.record("app.quit", user_id=user_id, approved_by=approver, register=register),
                        lambda _: self.exit(), name="quit-audit")

        def said(text: str, error: bool) -> None:
            self.notify(text, severity="error" if error else "information")

        def counted(any_users: bool) -> None:
            if not any_users:
                self.exit()
                return
            ask_approval(self.screen, "quit", approved, say=said, title="Quit tui-pos", ask_first=True,
                         refused="The register stays open.")
        if self.user is not None:     # someone signed in: the register has users; the PIN prompt at once
            counted(True)
            return
        self.run_db(users.users_exist, counted, name="quit-users")
