"""The register app: wires screens to the runtime built in bootstrap."""

from __future__ import annotations

import logging

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from tui_pos.bootstrap import Runtime
from tui_pos.domain.receipt import layout
from tui_pos.screens.dialogs import PromptDialog
from tui_pos.screens.login import LoginScreen
from tui_pos.screens.sale import SaleScreen
from tui_pos.services import audit, users

log = logging.getLogger(__name__)


class PosApp(App):
    """tui-pos."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-pos"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True, id="app.quit")]

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.user: users.Person | None = None
        self.printed: list[str] = []  # receipt numbers sent to the printer (for support and tests)
        self.dgi_answers: list = []   # answers of the online RUC check, newest last

    def on_mount(self) -> None:
        cfg = self.runtime.config
        if users.users_exist():
            self.push_screen(LoginScreen(cfg.store.name, cfg.store.register))
        else:
            self.push_screen(SaleScreen(self.runtime.sales, self.runtime.money, None, cfg.store.phone_region))

    @on(LoginScreen.SignedIn)
    def _signed_in(self, event: LoginScreen.SignedIn) -> None:
        self.user = event.person
        audit.record("user.sign_in", user_id=event.person.id, register=self.runtime.sales.register_code)
        self.switch_screen(SaleScreen(self.runtime.sales, self.runtime.money, event.person,
                                      self.runtime.config.store.phone_region))

    # ------------------------------------------------------------ printing

    def print_receipt(self, receipt_no: str, *, kick_drawer: bool = False, reprint: bool = False) -> None:
        """Lay out the receipt here (a quick read), send it from a worker."""
        try:
            receipt = self.runtime.sales.receipt(receipt_no, reprint=reprint)
        except Exception:  # noqa: BLE001
            log.exception("cannot build receipt %s", receipt_no)
            self._printer_problem(receipt_no, "the receipt could not be built (logged)")
            return
        rows = layout(receipt, self.runtime.config.printer.columns, self.runtime.money.plain)
        kick = kick_drawer and self.runtime.printer.has_drawer
        self._send(receipt_no, rows, kick)

    @work(thread=True, exit_on_error=False, group="printer", name="print")
    def _send(self, receipt_no: str, rows, kick: bool) -> str:
        from tui_pos.hardware.printer import render
        data = render(rows, kick_drawer=kick)
        self.runtime.printer.send(data)
        return receipt_no

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "dgi":
            self._dgi_done(event)
            return
        if event.worker.group != "printer":
            return
        if event.state == WorkerState.SUCCESS:
            self.printed.append(event.worker.result)
        elif event.state == WorkerState.ERROR:
            log.error("printing failed: %s", event.worker.error)
            self._printer_problem("", str(event.worker.error))

    def _printer_problem(self, receipt_no: str, detail: str) -> None:
        text = f"Printer problem: {detail}. The sale is saved; Ctrl+P reprints."
        self.notify(text, severity="error", timeout=10)
        if isinstance(self.screen, SaleScreen):
            self.screen.say(text, error=True)

    # ------------------------------------------------------------ the online RUC check

    def check_ruc(self, ruc: str, dv: str, fiscal_name: str) -> None:
        """Start the optional DGI check in the background (never blocks the register)."""
        if self.runtime.config.dgi.url and ruc:
            self._check_ruc(ruc, dv, fiscal_name)

    @work(thread=True, exit_on_error=False, group="dgi", name="dgi")
    def _check_ruc(self, ruc: str, dv: str, fiscal_name: str):
        from tui_pos.services import dgi
        cfg = self.runtime.config.dgi
        return dgi.verify(ruc, dv, fiscal_name, url=cfg.url, token=cfg.token, timeout=cfg.timeout)

    def _dgi_done(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            answer = event.worker.result
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
        if self.is_headless:
            super()._handle_exception(error)
            return
        log.error("unexpected error", exc_info=error)
        self.notify("Something went wrong and was logged; the note is saved. Carry on, or call support.",
                    severity="error", timeout=10)

    # ------------------------------------------------------------ quitting

    def action_request_quit(self) -> None:
        if not users.users_exist():
            self.exit()
            return

        def answered(pin: str | None) -> None:
            if pin is None:
                return
            manager = users.manager_for(pin)
            if manager is None:
                self.notify("That PIN is not a manager's: the register stays open.", severity="error")
                return
            audit.record("app.quit", user_id=self.user.id if self.user else None, approved_by=manager.id,
                         register=self.runtime.sales.register_code)
            self.exit()
        self.push_screen(PromptDialog("Quit tui-pos", "A manager PIN is needed to quit.", password=True,
                                      placeholder="manager PIN"), answered)
