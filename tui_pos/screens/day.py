"""Close of day on the register (Ctrl+E): the X report on screen, printing it, and the Z that closes the day."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from tui_pos.domain import dayreport
from tui_pos.domain.errors import PosError
from tui_pos.domain.money import parse_money
from tui_pos.screens.dialogs import ChoiceDialog, PromptDialog
from tui_pos.screens.gate import ask_approval
from tui_pos.services import dayclose, users
from tui_pos.services.connection import worker_connection
from tui_pos.services.dayclose import UnsyncedSales
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded

log = logging.getLogger(__name__)


class DayScreen(Guarded, DatabaseCalls, ModalScreen[None]):
    """The register's day so far (X); F10 closes it (Z) with the cash counted, a manager's act."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="day.close"),
        Binding("f5", "refresh", "X report", id="day.refresh"),
        Binding("ctrl+p", "print", "Print", id="day.print", priority=True),
        Binding("f10", "close_day", "Close day (Z)", id="day.z", priority=True),
    ]

    def __init__(self, money: Callable[[int], str], user: users.Person | None, plan: dayclose.DayPlan) -> None:
        super().__init__()
        self.plan = plan          # this register's close of day (services/dayclose.py), built in bootstrap
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

    # ------------------------------------------------------------ reading

    def action_refresh(self) -> None:
        if self.busy:
            return
        self.busy = True
        self._read_x()

    @work(thread=True, exit_on_error=False, group="day", name="x-report")
    def _read_x(self) -> dayreport.DayReport:
        with worker_connection():
            return self.plan.x_report()

    @work(thread=True, exit_on_error=False, group="day", name="z-report")
    def _close(self, counted: int, user_id: int | None, force: bool = False) -> tuple[dayreport.DayReport, str]:
        with worker_connection():
            return self.plan.close(counted, user_id, force=force)   # the Z, then its backup: one service call

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "day" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.busy = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, UnsyncedSales) and self._z_asked is not None:
                self._force_close(error)
                return
            if isinstance(error, PosError):
                self._say(str(error), error=True)
            else:
                log.error("day report failed", exc_info=error)
                self._say("The report could not be read; it was logged. Try F5 again or call support.", error=True)
            return
        if event.worker.name == "x-report":
            self._show(cast(dayreport.DayReport, event.worker.result))
            self._say("Not a closing: the day goes on. F10 closes it."
                      + (" Count the drawer first: the figures show after the count." if self._blind else ""))
        else:
            report, said = cast(tuple[dayreport.DayReport, str], event.worker.result)
            self._show(report)
            self._queue(report, lambda printed: self._say(f"Day closed: Z #{report.number}. {printed}{said}."))

    def _show(self, report: dayreport.DayReport) -> None:
        self.report = report
        rows = dayreport.layout(report, 48, self.money, blind=self._blind)
        self.query_one("#day-report", Static).update(Text(dayreport.as_text(rows), no_wrap=True))

    @property
    def _blind(self) -> bool:
        """The close of day is a blind count for whoever may not see the expected cash (`[permissions]`)."""
        return self.user is not None and not users.may(self.user, "expected_cash")   # signed in: users exist

    def _say(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#day-message", Static)
        msg.update(escape(text))
        msg.set_class(error, "error")

    # ------------------------------------------------------------ printing and closing

    def _queue(self, report: dayreport.DayReport, then: Callable[[str], None]) -> None:
        """Queue the report for the printer in the screen's worker, then `then(what was done)`."""
        if not self.plan.printing:
            then("No printer: nothing printed. ")
            return
        plan, money, blind = self.plan, self.money, self._blind

        def queued(_: object) -> None:
            self.app.receipt_queued()  # type: ignore[attr-defined]
            then("Sent to the printer. ")
        self.run_db(lambda: plan.queue_print(report, money, blind=blind), queued, name="queue-print")

    def action_print(self) -> None:
        if self.report is None:
            self._say("Wait for the report first.", error=True)
            return
        self._queue(self.report, lambda printed: self._say(printed.strip()))

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py)."""
        self._say(text, error=error)

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

    _z_asked: tuple[int, int | None] | None = None    # (counted, manager) of the Z being closed

    def _force_close(self, error: UnsyncedSales) -> None:
        """Offline sales not on the server yet: said, and the manager who approved the Z may close anyway."""
        counted, manager_id = self._z_asked or (0, None)
        self._z_asked = None
        self._say(str(error), error=True)

        def chosen(choice: str | None) -> None:
            if choice != "force":
                self._say("The day is still open: the offline sales are sent when the server is back.")
                return
            self.busy = True
            self._say("Closing the day without the unsent sales...")
            self._close(counted, manager_id, True)
        self.app.push_screen(ChoiceDialog(
            f"Z: {error.count} offline sales not on the server yet",
            [("wait", "Wait for the server (the day stays open)"), ("force", "Close anyway (audited)")]), chosen)

    def _approve(self, counted: int) -> None:
        def go(manager_id: int | None) -> None:
            self.busy = True
            self._z_asked = (counted, manager_id)
            self._say("Closing the day...")
            self._close(counted, manager_id)
        ask_approval(self, "close_day", lambda manager: go(manager.id if manager else None),
                     say=lambda text, error: self._say(text, error=True), user=self.user, title="Close the day (Z)",
                     refusal=users.refusal("close_day") + " The day is still open.")

    def action_close(self) -> None:
        self.dismiss(None)
