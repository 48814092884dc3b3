"""Loyalty beyond the sale: the manager's Loyalty screen (statistics, report, program settings)
and a customer's loyalty account (ledger, offers, tier, adjustments). Seeds 000, 001, 002, 004.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from typing import cast

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static, TabbedContent, TabPane, TextArea
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tui_pos.domain import loyalty as rules
from tui_pos.domain.errors import PosError
from tui_pos.domain.money import MoneyFormat
from tui_pos.domain.text import printable
from tui_pos.screens.dialogs import ChoiceDialog, InfoDialog, PromptDialog
from tui_pos.screens.gate import ask_approval
from tui_pos.services import loyalty, loyalty_admin, users
from tui_pos.services.connection import is_connection_error
from tui_pos.services.stamps import InProgress, Order, Reached
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.charts import bar_chart, paired_chart
from tui_pos.widgets.devices import DatabaseBack
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class LoyaltyAdmin(Guarded, DatabaseCalls, ModalScreen[None]):
    """Seed 000's "Go to Loyalty": statistics, the loyalties-per-customer report, the program."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="loyalty.close"),
        Binding("ctrl+s", "save", "Save program", id="loyalty.save", priority=True),
        Binding("f5", "refresh", "Refresh", id="loyalty.refresh"),
        Binding("ctrl+t,ctrl+pagedown", "tab(1)", "Next tab", id="loyalty.next_tab", priority=True),
        Binding("ctrl+pageup", "tab(-1)", "Previous tab", show=False, id="loyalty.prev_tab", priority=True),
        Binding("pagedown", "scroll_stats(1)", "Scroll down", show=False, id="loyalty.page_down"),
        Binding("pageup", "scroll_stats(-1)", "Scroll up", show=False, id="loyalty.page_up"),
    ]

    TABS = ("tab-stats", "tab-report", "tab-program")

    def __init__(self, money: Callable[[int], str], user: users.Person | None, register: str,
                 today: _dt.date | None = None, *, sales_modes: list[str] | None = None) -> None:
        super().__init__()
        self.sales_modes = sales_modes   # the register's sales modes, which a program's rules may name
        self.money = money
        self.user = user
        self.register = register
        self.today = today  # the statistics' last month (tests pin it)

    def compose(self) -> ComposeResult:
        # the program (the tiers of the report's filter, the editor's text) is read in the screen's worker
        with Vertical(classes="dialog full", id="loyalty-admin"):
            yield Label("Loyalty", classes="dialog-title")
            with TabbedContent(id="loyalty-tabs"):
                with TabPane("Statistics", id="tab-stats"):
                    with VerticalScroll(id="stats-scroll"):     # PgUp/PgDn: the charts are taller than 24 rows
                        yield Static("Computing...", id="stats-figures")
                        yield Static("", id="stats-tiers")
                        yield Static("", id="stats-months")
                        yield Static("", id="stats-active")
                with TabPane("Report", id="tab-report"):
                    with Horizontal(id="report-filters"):
                        yield Select([], prompt="every tier", id="report-tier", allow_blank=True)
                        yield Input(placeholder="group", id="report-group")
                        yield Input(placeholder="from YYYY-MM-DD", id="report-from")
                        yield Input(placeholder="to YYYY-MM-DD", id="report-to")
                    yield ReportTable(id="report-table", cursor_type="row")
                    yield Static("", id="report-message")
                with TabPane("Program", id="tab-program"):
                    yield TextArea("", id="program-text", language=None, soft_wrap=True)  # 80 columns
                    yield Static("", id="program-message")
            yield HelpLine("Ctrl+T: next tab   PgUp/PgDn: scroll   Enter in a filter: apply   "
                           "Ctrl+S: save the program   F5: refresh   Escape: close", classes="dialog-help")

    def on_mount(self) -> None:
        self._load_stats()  # the report starts when its table is mounted (ReportTable.on_mount)
        self.run_db(self._read_program, self._show_program, name="loyalty-program")

    @staticmethod
    def _read_program() -> tuple[list[str], str, str]:
        """In the worker: the tiers' names, the program's text, and why it cannot be shown (or "")."""
        prog = loyalty.program()
        tiers = [t.name for t in prog.tiers] if prog else []
        try:
            return tiers, loyalty_admin.program_text(), ""
        except PosError as exc:
            return tiers, "", str(exc)

    def _show_program(self, read: tuple[list[str], str, str]) -> None:
        tiers, text, problem = read
        if not self.query("#program-message"):  # the tabs' panes are still being mounted
            self.set_timer(0.05, lambda: self._show_program(read))
            return
        if tiers:
            self.query_one("#report-tier", Select).set_options([(name, name) for name in tiers])
        if problem:
            self._say_program(problem, error=True)
        self.call_later(self._swap_editor, text)

    async def _swap_editor(self, text: str) -> None:
        """A new editor with the program's text, as one made with it (load_text would move the cursor and
        mark its bracket)."""
        old = self.query_one("#program-text", TextArea)
        pane = self.query_one("#tab-program", TabPane)
        focused = old.has_focus
        await old.remove()
        editor = TextArea(text, id="program-text", language=None, soft_wrap=True)  # 80 columns
        await pane.mount(editor, before="#program-message")
        if focused:
            editor.focus()

    def action_scroll_stats(self, step: int) -> None:
        if self.query_one(TabbedContent).active != "tab-stats":
            return
        scroll = self.query_one("#stats-scroll", VerticalScroll)
        scroll.scroll_page_down() if step > 0 else scroll.scroll_page_up()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        i = self.TABS.index(tabs.active) if tabs.active in self.TABS else 0
        tabs.active = self.TABS[(i + step) % len(self.TABS)]
        focus = {"tab-report": "#report-group", "tab-program": "#program-text"}.get(tabs.active)
        if focus:
            self.query_one(focus).focus()

    # ---------------------------------------------------------------- statistics

    @work(thread=True, exclusive=True, exit_on_error=False, group="loyalty-stats")
    def _load_stats(self) -> loyalty_admin.Statistics:
        from tui_pos.services.connection import worker_connection
        with worker_connection():
            return loyalty_admin.statistics(today=self.today)

    @on(Worker.StateChanged)
    def _stats_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "loyalty-stats":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#stats-figures", Static).update("[b $error]The statistics could not be computed "
                                                            "(logged). F5 tries again.[/]")
            return
        if event.state == WorkerState.SUCCESS:
            self.show_stats(cast(loyalty_admin.Statistics, event.worker.result))

    def show_stats(self, s: loyalty_admin.Statistics) -> None:
        if not self.query("#stats-active"):  # the tabs' panes are still being mounted
            self.set_timer(0.05, lambda: self.show_stats(s))
            return
        width = max(40, self.size.width - 8)
        self.query_one("#stats-figures", Static).update(
            f"[b]Enrolled[/] {s.enrolled} of {s.customers} customers   "
            + (f"[b]Outstanding[/] {self.money(s.outstanding_points)}" if s.value_mode else
               f"[b]Outstanding[/] {s.outstanding_points} points   [b]Liability[/] {self.money(s.liability_cents)}"))
        self.query_one("#stats-tiers", Static).update(
            "\n[b]Customers by tier[/]\n" + escape(bar_chart(list(s.by_tier), width)))
        months = list(s.months)
        while len(months) > 3 and months[0][1:] == (0, 0):
            months.pop(0)  # the months before the program's first movement say nothing
        self.query_one("#stats-months", Static).update(
            "\n[b]Points issued and redeemed by month[/]\n"
            + escape(paired_chart([(m[2:], a, b) for m, a, b in months], width, ("in", "out"))))
        active = "\n".join(f"{code:<10} {name[:24]:<24} {visits:>5} visits {earned:>8} points"
                           for code, name, visits, earned in s.most_active) or "(nobody yet)"
        self.query_one("#stats-active", Static).update("\n[b]Most active customers[/]\n" + escape(active))

    def action_refresh(self) -> None:
        self.query_one("#stats-figures", Static).update("Computing...")
        self._load_stats()
        self._load_report()

    # ---------------------------------------------------------------- the report

    SHOWN = 500  # rows on screen; the CSV has them all

    def _load_report(self) -> None:
        tier = self.query_one("#report-tier", Select).value
        self._say_report("Computing...")
        self._report(self.query_one("#report-from", Input).value or None,
                     self.query_one("#report-to", Input).value or None,
                     tier if isinstance(tier, str) else "", self.query_one("#report-group", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="loyalty-report")
    def _report(self, date_from, date_to, tier: str, group: str):
        from tui_pos.services.connection import worker_connection
        with worker_connection():
            try:
                rows = loyalty_admin.report(date_from=date_from, date_to=date_to, tier=tier, group=group,
                                            limit=self.SHOWN)
            except PosError as exc:
                return str(exc)
            total = (loyalty_admin.report_count(tier=tier, group=group)
                     if not (date_from or date_to) else len(rows))
            return rows, total

    @on(Worker.StateChanged)
    def _report_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "loyalty-report":
            return
        if event.state == WorkerState.ERROR:
            self._say_report("The report could not be computed (logged). F5 tries again.", error=True)
            return
        if event.state != WorkerState.SUCCESS:
            return
        if isinstance(event.worker.result, str):
            self._say_report(event.worker.result, error=True)
            return
        rows, total = cast(tuple[list[list[str]], int], event.worker.result)
        self._show_report(rows, total)

    def _show_report(self, rows: list[list[str]], total: int) -> None:
        table = self.query_one("#report-table", DataTable)
        table.clear()
        for row in rows:
            r = dict(zip(loyalty_admin.REPORT_COLUMNS, row))
            who = Text(f"{r['name']}\n{r['phone']}".strip(), overflow="fold")   # two lines: 80 columns
            table.add_row(Text(r["code"]), who, Text(r["tier"]), r["balance"], r["earned"], r["redeemed"],
                          (r["last_visit"] or "")[:10], height=None)
        shown = f"the first {len(rows)} of {total}" if total > len(rows) else f"{len(rows)}"
        self._say_report(f"{shown} customers. `tui-pos report loyalty --csv` writes them all as CSV.")

    @on(Input.Submitted, "#report-filters Input")
    def _filters(self, event: Input.Submitted) -> None:
        self._load_report()

    @on(Select.Changed, "#report-tier")
    def _tier(self, event: Select.Changed) -> None:
        self._load_report()

    def _say_report(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#report-message", Static)
        msg.update(escape(text))
        msg.set_class(error, "error")

    # ---------------------------------------------------------------- the program

    def action_save(self) -> None:
        if self.query_one(TabbedContent).active != "tab-program":
            return
        text = self.query_one("#program-text", TextArea).text
        user_id, register, modes = self.user.id if self.user else None, self.register, self.sales_modes

        def save() -> rules.Program | PosError:
            try:
                return loyalty_admin.save_program_text(text, user_id=user_id, register=register, sales_modes=modes)
            except PosError as exc:
                return exc

        def saved(prog: rules.Program | PosError) -> None:
            if isinstance(prog, PosError):
                self._say_program(f"Not saved: {prog}", error=True)
                self.app.bell()
                return
            self._say_program(f"Saved ({len(prog.tiers)} tiers). Every register uses it from its next note.")
            self.action_refresh()
        self.run_db(save, saved, name="loyalty-save")

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py), under the program."""
        self._say_program(text, error=error)

    def _say_program(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#program-message", Static)
        msg.update(escape(text))
        msg.set_class(error, "error")

    def action_close(self) -> None:
        self.dismiss(None)


class ReportTable(DataTable):
    """The report's table: sets up its columns and asks for the first page once it is mounted."""

    def on_mount(self) -> None:
        # the CSV's columns (SPEC), the name and phone in one, so that the row fits 80 columns
        for title, key, width in (("Code", "code", None), ("Customer", "customer", 16), ("Tier", "tier", None),
                                  ("Balance", "balance", None), ("Earned", "earned", None),
                                  ("Used", "redeemed", None), ("Last visit", "last_visit", None)):
            self.add_column(title, key=key, width=width)
        screen = self.screen
        if isinstance(screen, LoyaltyAdmin):
            screen._load_report()


class CustomerLoyalty(Guarded, DatabaseCalls, ModalScreen[None]):
    """Seed 001's Loyalty tab: the ledger, offers in progress and reached, the tier, adjustments."""

    PER_PAGE = 12
    BINDINGS = [
        Binding("escape", "close", "Close", id="account.close"),
        Binding("pagedown", "page(1)", "Older", id="account.older"),
        Binding("pageup", "page(-1)", "Newer", id="account.newer"),
        Binding("ctrl+a", "adjust", "Adjust points", id="account.adjust", priority=True),
    ]

    def __init__(self, customer_id: int, user: users.Person | None, register: str, max_adjustment: int, *,
                 money: Callable[[int], str] | None = None) -> None:
        super().__init__()
        self.money = money or MoneyFormat()    # amounts as the store writes them
        self.customer_id = customer_id
        self.user = user
        self.register = register
        self.max_adjustment = max_adjustment
        self.page = 0
        self.waiting: tuple | None = None   # an adjustment whose answer was lost: asked again when the database is back

    def on_database_back(self, event: DatabaseBack) -> None:
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            self._apply(*waiting)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="customer-loyalty"):
            yield Label("Loyalty", classes="dialog-title", id="account-title")
            yield Static("", id="account-figures")
            # seed 001: "the offers in progress" and "the offers already reached", each with a magnifying
            # glass to "see the detail of his orders": Enter on one lists them
            yield OptionList(id="account-offers")
            yield DataTable(id="ledger", cursor_type="row")
            yield Static("", id="account-message")
            yield HelpLine("PgUp/PgDn: newer/older   Tab, Enter on an offer: its orders   "
                           "Ctrl+A: add or remove points (manager)   Escape: close", classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one("#ledger", DataTable)
        # seed 001: "the date of the order, the product concerned, the previous loyalty balance, the amount of
        # accumulated loyalty points (in positive or negative) and the new balance"; what a movement is about
        # (its product, or an adjustment's reason) is last and wraps, so the row fits 80 columns
        for name in ("Date", "Receipt", "Kind", "Before", "Points", "After"):
            table.add_column(name, key=name.lower())
        table.add_column("Product or reason", key="what", width=20)
        self.refresh_account()

    def refresh_account(self, said: str | None = None) -> None:
        """Read the account, its offers and the ledger's page in the screen's worker, then show them (and
        `said`, when given, instead of the page's line)."""
        customer_id, page, per_page = self.customer_id, self.page, self.PER_PAGE

        def read() -> tuple[loyalty_admin.Account, tuple[list[InProgress], list[Reached]],
                            tuple[list[loyalty_admin.LedgerRow], int]]:
            return (loyalty_admin.account(customer_id), loyalty_admin.offers(customer_id),
                    loyalty_admin.ledger_page(customer_id, page, per_page))

        def show(got: tuple[loyalty_admin.Account, tuple[list[InProgress], list[Reached]],
                            tuple[list[loyalty_admin.LedgerRow], int]]) -> None:
            acc, (progress, reached), ledger = got
            self._show_account(acc, progress, reached)
            self._fill_page(*ledger)
            if said is not None:
                self._say(said)
        self.run_db(read, show, name="loyalty-account")

    def _show_account(self, acc: loyalty_admin.Account, progress: list[InProgress], reached: list[Reached]) -> None:
        self.program = acc.program
        show = self._amount
        self.query_one("#account-title", Label).update(Text(printable(f"Loyalty · {acc.name or acc.code}")))
        needs = (f"{acc.next_needs} more points" if acc.program.mode == "points"
                 else f"{self._money(acc.next_needs)} more")
        nxt = f"{needs} to {acc.next_tier}" if acc.next_tier else "the top tier"
        self.query_one("#account-figures", Static).update(
            f"[b]Balance[/] {show(acc.balance)}   [b]Earned[/] {show(acc.earned)}   "
            f"[b]Tier[/] {escape(acc.tier or '-')} ({escape(nxt)})")
        self.offer_rows: dict[str, tuple[str, tuple[str, ...]]] = {}
        options = []
        for i, o in enumerate(progress):
            key = f"p{i}"
            self.offer_rows[key] = (f"{o.offer}: in progress, {o.units}/{o.count}", o.receipts)
            options.append(Option(Text(f"In progress  {o.offer}  {o.units}/{o.count}"
                                       + (f"  ({len(o.receipts)} order{'' if len(o.receipts) == 1 else 's'})"
                                          if o.receipts else "")), id=key))
        for i, r in enumerate(reached):
            key = f"r{i}"
            taken = f"taken on {r.taken_on}" if r.taken_on else "not taken yet"
            self.offer_rows[key] = (f"{r.offer}: reached on {r.at:%Y-%m-%d} ({r.receipt_no}), {taken}", r.orders)
            options.append(Option(Text(f"Reached      {r.offer}  {r.at:%Y-%m-%d}  {taken}"), id=key))
        listing = self.query_one("#account-offers", OptionList)
        listing.clear_options()
        listing.add_options(options or [Option(Text("No offers in progress or reached."), id="none",
                                               disabled=True)])

    @on(OptionList.OptionSelected, "#account-offers")
    def _offer_orders(self, event: OptionList.OptionSelected) -> None:
        title, receipts = self.offer_rows.get(event.option.id or "", ("", ()))
        if not title:
            return

        def show(found: list[Order]) -> None:
            text = "\n".join(f"{o.receipt_no}  {o.at:%Y-%m-%d %H:%M}  {self._money(o.total_cents)}" if o.at
                             else o.receipt_no for o in found) or "No orders counted yet."
            self.app.push_screen(InfoDialog(title, text))
        self.run_db(lambda: loyalty_admin.offer_orders(receipts), show, name="offer-orders")

    def _show_page(self) -> None:
        customer_id, page, per_page = self.customer_id, self.page, self.PER_PAGE
        self.run_db(lambda: loyalty_admin.ledger_page(customer_id, page, per_page),
                    lambda got: self._fill_page(*got), name="ledger-page")

    def _fill_page(self, rows: list[loyalty_admin.LedgerRow], pages: int) -> None:
        self.page = min(self.page, pages - 1)
        table = self.query_one("#ledger", DataTable)
        table.clear()
        for r in rows:
            what = " · ".join(t for t in (r.product, r.reason) if t)
            moved = self._amount(r.points)
            table.add_row(r.at.strftime("%Y-%m-%d"), r.receipt_no, r.kind, self._amount(r.before),
                          moved if r.points < 0 else "+" + moved, self._amount(r.after), Text(what), height=None)
        self._say(f"Page {self.page + 1} of {pages}, newest first.")

    @property
    def _money(self) -> Callable[[int], str]:
        return self.money

    def _amount(self, value: int) -> str:
        """Points, or money in value mode (seed 002), without the word (the columns say it)."""
        program: rules.Program | None = getattr(self, "program", None)
        return program.amount(value, self._money, unit=False) if program else str(value)

    def action_page(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self._show_page()

    def _say(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#account-message", Static)
        msg.update(escape(text))
        msg.set_class(error, "error")

    def action_adjust(self) -> None:
        def got_points(text: str | None) -> None:
            if text is None:
                return
            try:
                points = int(text.strip().replace(" ", ""))
            except ValueError:
                self._say(f"{text!r} is not a number of points: type 50 to add, -50 to remove.", error=True)
                return

            def got_reason(reason: str | None) -> None:
                if reason is None:
                    return

                def got_tier(answer: str | None) -> None:
                    if answer is None:
                        return
                    tier = answer == "yes"
                    ask_approval(self, "loyalty_adjust",
                                 lambda manager: self._apply(points, reason, manager.id if manager else None, tier),
                                 say=lambda text, error: self._say(text, error=True), user=self.user,
                                 cancelled="No approval: nothing was changed.",
                                 refusal="No approval: nothing was changed.")
                self.app.push_screen(ChoiceDialog("Count toward the tier?", [
                    ("no", "No: goodwill (the tier stays as it is)"),
                    ("yes", "Yes: purchases the register missed")]), got_tier)
            self.app.push_screen(PromptDialog("Reason", "Why (kept in the ledger and the audit log)"), got_reason)
        self.app.push_screen(PromptDialog("Adjust points", f"Points to add, or -points to remove "
                                          f"(at most {self.max_adjustment})"), got_points)

    def _apply(self, points: int, reason: str, manager_id: int | None, counts_toward_tier: bool = False,
               request_id: str | None = None) -> None:
        """Make the adjustment, named by a request id made here once: asked again with the same id when
        the database is back (its answer was lost), it is made once."""
        request_id = request_id or uuid.uuid4().hex

        def adjusted(moved: loyalty.Movement) -> None:
            self.page = 0
            self.refresh_account(said=f"{points:+d} points: the balance is now {moved.balance_after}. Logged.")

        def unanswered(error: BaseException) -> None:
            if is_connection_error(error):
                self.waiting = (points, reason, manager_id, counts_toward_tier, request_id)
                self._say(f"The database cannot be reached, and its answer did not come: whether {points:+d} "
                          "points were adjusted is checked when it is back, and they are adjusted once.",
                          error=True)
        self.run_db(lambda: loyalty_admin.adjust(self.customer_id, points, reason, manager_id=manager_id,
                                                 max_points=self.max_adjustment, register=self.register,
                                                 counts_toward_tier=counts_toward_tier, request_id=request_id),
                    adjusted, failed=unanswered, name="adjust")

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py)."""
        self._say(text, error=error)

    def action_close(self) -> None:
        self.dismiss(None)
