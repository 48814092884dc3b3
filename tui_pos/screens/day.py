"""Close of day on the register (Ctrl+E): the X report on screen, printing it, and the Z that closes the day."""

from __future__ import annotations

import logging
from typing import Callable

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from tui_pos.widgets.safety import Guarded

from tui_pos.domain import dayreport
from tui_pos.domain.errors import PosError
from tui_pos.domain.money import parse_money
from tui_pos.services.connection import worker_connection
from tui_pos.screens.dialogs import PromptDialog
from tui_pos.services import dayclose, users
from tui_pos.widgets.keybar import HelpLine

log = logging.getLogger(__name__)


class DayScreen(Guarded, ModalScreen[None]):
    """The register's day so far (X); F10 closes it (Z) with the cash counted, a manager's act."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="day.close"),
        Binding("f5", "refresh", "X report", id="day.refresh"),
        Binding("ctrl+p", "print", "Print", id="day.print", priority=True),
        Binding("f10", "close_day", "Close day (Z)", id="day.z", priority=True),
    ]

    def __init__(self, money: Callable[[int], str], user: users.Person | None) -> None:
        super().__init__()
        self.money = money
        self.user = user
        self.report: dayreport.DayReport | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full", id="day"):
            yield Label("Close of day", classes="dialog-title")
            with VerticalScroll(id="day-scroll"):
                yield Static("Reading the day...", id="day-report")
            yield Static("", id="day-message")
            yield HelpLine("F5 X report  Ctrl+P print  F10 close the day (Z)  Esc back", classes="dialog-help")

    def on_mount(self) -> None:
        self.action_refresh()

    @property
    def _runtime(self):
        return self.app.runtime

    @property
    def _float_cents(self) -> int:
        return parse_money(self._runtime.config.sale.opening_float, "opening float")

    # ------------------------------------------------------------ reading

    def action_refresh(self) -> None:
        if self.busy:
            return
        self.busy = True
        self._read_x(self._runtime.sales.register_code, self._float_cents)

    @work(thread=True, exit_on_error=False, group="day", name="x-report")
    def _read_x(self, register: str, float_cents: int) -> dayreport.DayReport:
        with worker_connection():
            return dayclose.x_report(register, opening_float_cents=float_cents)

    @work(thread=True, exit_on_error=False, group="day", name="z-report")
    def _close(self, register: str, counted: int, float_cents: int, user_id: int | None) -> tuple:
        cfg = self._runtime.config
        with worker_connection():
            report = dayclose.close_day(register, counted, opening_float_cents=float_cents, user_id=user_id)
            from tui_pos.services.backup import after_close
            said = after_close(cfg.db_url(self._runtime.demo), cfg.backup.dir, cfg.backup.keep, register,
                               report.number)
        return report, said

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "day" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.busy = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, PosError):
                self._say(str(error), error=True)
            else:
                log.error("day report failed", exc_info=error)
                self._say("The report could not be read; it was logged. Try F5 again or call support.", error=True)
            return
        if event.worker.name == "x-report":
            self._show(event.worker.result)
            self._say("Not a closing: the day goes on. F10 closes it."
                      + (" Count the drawer first: the figures show after the count." if self._blind else ""))
        else:
            report, said = event.worker.result
            self._show(report)
            printed = self._queue(report)
            self._say(f"Day closed: Z #{report.number}. {printed}{said}.")

    def _show(self, report: dayreport.DayReport) -> None:
        self.report = report
        rows = dayreport.layout(report, 48, self.money, blind=self._blind)
        self.query_one("#day-report", Static).update(Text(dayreport.as_text(rows), no_wrap=True))

    @property
    def _blind(self) -> bool:
        """The close of day is a blind count for whoever may not see the expected cash (`[permissions]`)."""
        return users.users_exist() and not users.may(self.user, "expected_cash")

    def _say(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#day-message", Static)
        msg.update(escape(text))
        msg.set_class(error, "error")

    # ------------------------------------------------------------ printing and closing

    def _queue(self, report: dayreport.DayReport) -> str:
        cfg = self._runtime.config
        if self._runtime.spooler is None:
            return "No printer: nothing printed. "
        dayclose.queue_print(self._runtime.sales.register_code, report, cfg.printer.columns, self.money,
                             blind=self._blind)
        self.app.receipt_queued()
        return "Sent to the printer. "

    def action_print(self) -> None:
        if self.report is None:
            self._say("Wait for the report first.", error=True)
            return
        self._say(self._queue(self.report).strip())

    def action_close_day(self) -> None:
        if self.busy:
            return

        def counted(text: str | None) -> None:
            if text is None:
                self._say("The day is still open.")
                return
            try:
                cents = parse_money(text, "cash counted")
            except PosError as exc:
                self._say(str(exc), error=True)
                return
            self._approve(cents)
        self.app.push_screen(PromptDialog("Close the day (Z)", "Count the cash in the drawer and type it.",
                                          placeholder="cash counted, e.g. 152.40"), counted)

    def _approve(self, counted: int) -> None:
        def go(manager_id: int | None) -> None:
            self.busy = True
            self._say("Closing the day...")
            self._close(self._runtime.sales.register_code, counted, self._float_cents, manager_id)
        if not users.users_exist() or users.may(self.user, "close_day"):
            go(self.user.id if self.user else None)
            return

        def pin(text: str | None) -> None:
            manager = users.approver_for(text, "close_day") if text else None
            if manager is None:
                self._say(users.refusal("close_day") + " The day is still open.", error=True)
                return
            go(manager.id)
        self.app.push_screen(PromptDialog("Close the day (Z)", users.permissions().prompt("close_day"),
                                          password=True, placeholder=users.pin_words("close_day")), pin)

    def action_close(self) -> None:
        self.dismiss(None)
