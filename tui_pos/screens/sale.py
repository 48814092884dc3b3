"""The sale screen: scan, edit lines, pay, return. Keys are in SPEC.md."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from tui_pos.domain.codes import parse_qty
from tui_pos.domain.customer import format_phone
from tui_pos.domain.errors import PosError
from tui_pos.domain.money import MoneyFormat, parse_money, parse_percent_bp
from tui_pos.domain.text import printable
from tui_pos.screens.customers import CustomerLookup, LookupOutcome, receipt_text_for
from tui_pos.screens.dialogs import ChoiceDialog, InfoDialog, PromptDialog
from tui_pos.screens.gate import ask_approval
from tui_pos.screens.loyalty import OfferScreen, RedeemDialog
from tui_pos.screens.payment import PaymentScreen
from tui_pos.screens.returns import ReturnScreen
from tui_pos.screens.search import ProductSearch
from tui_pos.services import customers, users
from tui_pos.services.connection import is_connection_error
from tui_pos.services.customers import CustomerView
from tui_pos.services.dayclose import DayPlan
from tui_pos.services.loyalty import NoteLoyalty as LoyaltyState
from tui_pos.services.messaging import Settings
from tui_pos.services.sales import (
    LineView,
    NoteView,
    PayResult,
    SaleService,
    ScanResult,
    Summary,
)
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.devices import DatabaseBack, DeviceStatus, Scanned, WentOffline
from tui_pos.widgets.keybar import KeyBar, key_label
from tui_pos.widgets.lines import NoteLines
from tui_pos.widgets.safety import Guarded

log = logging.getLogger(__name__)

CODE_MAX = 64        # the longest code a field holds (a barcode, SKU, card or N*CODE): a stuck scanner stops here
PANEL_FIGURES = 19   # the side panel's text width (app.tcss #side: 22 with its border and padding)
QTY_PREFIX = re.compile(r"^\s*\d+\s*[*xX]\s*$")   # "3*" typed before scanning



class CodeInput(Input):
    """The code field: Enter adds the code at once, before the field reads its next key.

    Input posts Submitted, which reaches the screen after any key already queued behind the Enter: a
    fast "ESP", Enter, F2 opened the customer dialog with "ESP" in it and the Espresso was lost.
    """

    QUIET = 0.3    # seconds without a key that end a runaway burst with no Enter (a stuck key let go)

    def __init__(self, on_enter: Callable[[str], bool], on_overflow: Callable[[], None] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.on_enter = on_enter
        self.on_overflow = on_overflow
        self.discarding = False     # past max_length: the rest of the burst goes nowhere
        self._last_discard = 0.0

    def restricted(self) -> None:
        """More than a code can hold (a stuck key, a scanner in the wrong mode, a paste): drop it all, say
        so once, and let the next scan in as soon as the burst ends (its Enter, or a quiet moment)."""
        if not self.discarding:
            self.discarding = True
            self.value = ""
            if self.on_overflow is not None:
                self.on_overflow()
        self._last_discard = time.monotonic()
        self.set_timer(self.QUIET, self._maybe_done)

    def _maybe_done(self) -> None:
        if self.discarding and time.monotonic() - self._last_discard >= self.QUIET:
            self.discarding = False

    def insert_text_at_cursor(self, text: str) -> None:
        if self.discarding:
            self._last_discard = time.monotonic()
            return
        super().insert_text_at_cursor(text)

    async def action_submit(self) -> None:
        if self.discarding:           # an Enter inside the runaway: nothing is looked up
            self._last_discard = time.monotonic()
            self.value = ""
            return
        if self.on_enter(self.value):
            self.value = ""


class SaleScreen(Guarded, DatabaseCalls, Screen):
    """Rings up the register's open note."""

    BINDINGS = [
        # The key bar shows these in this order: the key that ends every sale first. The F-keys are not
        # priority bindings: they reach the screen through the code field, after the keys typed or scanned
        # before them (a priority key jumped ahead: "ESP", Enter, F2 typed fast took "ESP" into the lookup
        # and lost the Espresso). The Ctrl keys stay priority: the field binds some of them (Ctrl+E, Ctrl+X).
        Binding("f10", "pay", "Pay", id="sale.pay"),
        Binding("f2", "customer", "Customer", id="sale.customer"),
        Binding("f3", "search", "Search", id="sale.search"),
        Binding("f4", "redeem", "Points", id="sale.redeem"),
        Binding("f5", "quantity", "Qty", id="sale.quantity"),
        Binding("f6", "discount", "Discount", id="sale.discount"),
        Binding("f7", "return", "Return", id="sale.return"),
        Binding("f8", "price", "Price", id="sale.price"),
        Binding("f9", "delete_line", "Delete", id="sale.delete_line"),
        Binding("f11", "park", "Park", id="sale.park"),
        Binding("f12", "resume", "Parked", id="sale.resume"),
        Binding("ctrl+o", "sales_mode", "Mode", show=False, id="sale.mode", priority=True),
        Binding("ctrl+x", "cancel_note", "Cancel note", show=False, id="sale.cancel", priority=True),
        Binding("ctrl+p", "reprint", "Reprint", show=False, id="sale.reprint", priority=True),
        Binding("ctrl+r", "reprint_number", "Reprint a receipt", show=False, id="sale.reprint_number",
                priority=True),
        Binding("ctrl+d", "open_drawer", "Open drawer", show=False, id="sale.drawer", priority=True),
        Binding("ctrl+l", "loyalty", "Loyalty", show=False, id="sale.loyalty", priority=True),
        Binding("ctrl+e", "day", "Close of day", show=False, id="sale.day", priority=True),
        Binding("ctrl+g", "messages", "Messages", show=False, id="sale.messages", priority=True),
        Binding("ctrl+b", "fiscal", "Electronic invoices", show=False, id="sale.fiscal", priority=True),
        Binding("ctrl+u", "switch_user", "Switch user", show=False, id="sale.switch_user", priority=True),
        Binding("f1", "keys", "Keys", id="sale.keys"),
        Binding("up", "cursor(-1)", "Up", show=False, id="sale.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="sale.down"),
        Binding("escape", "clear", "Clear", show=False, id="sale.clear"),
    ]

    def __init__(self, sales: SaleService, money: MoneyFormat, user: users.Person | None,
                 region: str = "PA", *, keys: dict[str, str] | None = None, has_drawer: bool = False,
                 messaging: Settings | None = None, day: DayPlan | None = None,
                 max_adjustment: int = 1000) -> None:
        super().__init__()
        self.max_adjustment = max_adjustment   # [loyalty] max_adjustment, for F2's points adjustment
        self.day = day                   # the close of day, for Ctrl+E
        self.sales = sales
        self.keys = keys or {}           # the user's [keys], for F1
        self.has_drawer = has_drawer     # the printer has a cash drawer ([printer] drawer)
        self.messaging = messaging       # the message settings, for Ctrl+G
        self.phone_region = region
        self.money = money
        self.user = user
        self.note_id: int | None = None
        self.customer_text = ""
        self.kept_codes: list[str] = []   # typed or scanned while the database was unreachable
        self.outcome = ""         # the last sale or refund completed ("Paid: receipt R1-000007."), said until
        #                           the next note gets a line: a lost database never hides it
        self.next_waiting = False   # a sale completed but its next note is not on screen (the database went)
        self.next_note_id: int | None = None
        self.back_unseen = False    # the database came back while another screen was on top
        self.paying = False         # the payment screen is open: its outcome decides what is shown next
        # the note as last shown, to carry it to the replica when the server goes (issue 24)
        self.shown: dict[int, LineView] = {}
        self.shown_customer: int | None = None
        self.shown_payments: tuple[tuple[str, int], ...] = ()
        self.left_on_server: int | None = None   # the server's note this screen went on from offline
        self.on_replica = False                 # the note on screen is on the replica
        self.carry_back_waiting = False         # the server came back while the payment window was open

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(id="status-bar")
            yield DeviceStatus(id="devices")
        with Horizontal(id="body"):
            yield NoteLines(id="lines")
            with Vertical(id="side"):
                yield Static(id="customer")
                yield Static(id="totals")
        yield Static("", id="message")
        yield CodeInput(lambda text: self.add_code(text, typed=True), self._overflow,
                        placeholder="scan or type a code, N*CODE for a quantity",
                        id="code", max_length=CODE_MAX)
        yield KeyBar()

    def on_mount(self) -> None:
        self.on_replica = self.sales.selling_offline     # started offline: the note is on the replica
        self.query_one("#code", Input).focus()
        self.new_note()

        def said(last: object) -> None:
            if last:
                # after a restart (a crash just after Enter, say) the cashier sees that the sale went through
                self.say(f"Last sale: {last.receipt_no}, {self.money(last.total_cents)}, {last.tenders}"  # type: ignore[attr-defined]
                         + (f", {last.cashier}" if last.cashier else "") + ".")  # type: ignore[attr-defined]
        self.run_db(self.sales.last_sale, said, name="last-sale")

    # ------------------------------------------------------------ painting

    def load_note(self, then: Callable[[], None] | None = None,
                  failed: Callable[[BaseException], None] | None = None) -> None:
        """Repaint the whole note (on start, resume, after a sale), read in the worker; then `then()`."""
        def read() -> tuple[NoteView, LoyaltyState | None]:
            view = self.sales.view(self.note_id)
            return view, (self.sales.loyalty(self.note_id) if view.customer is not None else None)

        def paint(read: tuple[NoteView, LoyaltyState | None]) -> None:
            view, state = read
            self.shown = {line.id: line for line in view.lines}
            self.shown_payments = view.payments
            self.query_one("#lines", NoteLines).set_rows([(str(line.id), self._cells(line)) for line in view.lines])
            self._show_customer(view.customer)
            self._show_summary(view.summary, state)
            self._show_status(view)
            if then is not None:
                then()
        self.run_db(read, paint, failed=failed, name="note")

    def with_loyalty(self, result: object) -> tuple[object, LoyaltyState | None]:
        """In the worker: a call's result, and the customer's loyalty to paint beside it (None: no customer)."""
        return result, (self.sales.loyalty(self.note_id) if self.customer_text else None)

    def _cells(self, line: LineView) -> tuple[str, str, str, str, str]:
        marker = {"manual": "*", "rate": "R", "specific": "S", "weighed": "W"}.get(line.price_source, "")
        price = self.money(line.unit_price_cents) + marker
        if line.offered_qty:
            disc = "Offered" if line.offered_qty == line.qty else f"{line.offered_qty} Off."
        elif line.discount_percent_bp:
            disc = f"{line.discount_percent_bp / 100:g}%"
        elif line.discount_cents:
            disc = self.money(line.discount_cents)
        else:
            disc = ""
        return line.name, str(line.qty), price, disc, self.money(line.total_cents)

    def _put_line(self, line: LineView) -> None:
        """Add or update one row; only that row and the cursor are repainted."""
        self.shown[line.id] = line
        self.query_one("#lines", NoteLines).upsert(str(line.id), self._cells(line))

    def _show_loyalty(self, state: LoyaltyState | None) -> None:
        """Balance, tier and what this note will earn, under the customer's name."""
        if not self.customer_text:
            return
        text = self.customer_text
        if state is not None:
            prog = state.program

            def show(value: int) -> str:       # points, or money in value mode (seed 002)
                return prog.amount(value, self.money, unit=False)
            balance = f"[b $error]{show(state.balance)}[/]" if state.balance < 0 else show(state.balance)
            text += f"\n{state.tier or ('Balance' if prog.mode == 'value' else 'Points')}: {balance}"
            text += (f"\n[$warning]{escape(state.earns_nothing)}[/]" if state.earns_nothing
                     else f"\nThis note +{show(state.will_earn)}")
            if state.redeem_points or state.offered_points:
                text += f"\nUsing {show(state.redeem_points + state.offered_points)}"
            for stamp in state.stamps:
                text += f"\n{stamp.offer[:14]} {stamp.units}/{stamp.count}"
                if stamp.rewards:
                    text += f" [b]+{stamp.rewards}[/]"
            if state.expiring:
                text += f"\n[$warning]{show(state.expiring)} expire {state.expiring_on:%d %b}[/]"
        self.query_one("#customer", Static).update(text)

    def _show_summary(self, summary: Summary, state: LoyaltyState | None = None) -> None:
        self._show_loyalty(state)
        t = summary.totals
        m = self.money
        width = PANEL_FIGURES

        def row(label: str, amount: str) -> str:
            return f"{label}{amount:>{max(1, width - len(label))}}"
        lines = [row(f"Lines {t.line_count}", f"Items {t.item_count}")]
        if t.redeemed_cents:
            lines.append(row("Points", "-" + m(t.redeemed_cents)))
        if t.discount_cents - t.redeemed_cents:
            lines.append(row("Disc.", "-" + m(t.discount_cents - t.redeemed_cents)))
        lines += [row("Tax", m(t.tax_cents)), "", f"[b]{row('TOTAL', m(t.total_cents))}[/]"]
        if summary.paid_cents:
            lines += [row("Paid", m(summary.paid_cents)), f"[b]{row('Due', m(summary.due_cents))}[/]"]
        self.query_one("#totals", Static).update("\n".join(lines))

    def _show_status(self, view: NoteView) -> None:
        who = self.user.name if self.user else "no sign-in"
        label = f" · {view.label if len(view.label) <= 24 else view.label[:23] + '…'}" if view.label else ""
        # who, the mode and the note first: at 80 columns, beside the devices' status, the store's name is
        # what a cut may take
        self.query_one("#status-bar", Static).update(Text(
            f"{self.sales.register_code} · {who} · {view.sales_mode} · note {view.id}{label} · "
            f"{self.sales.store_name}", no_wrap=True, overflow="ellipsis"))

    def _show_customer(self, customer: CustomerView | None) -> None:
        self.customer_text = ""
        self.shown_customer = customer.id if customer is not None else None
        panel = self.query_one("#customer", Static)
        panel.set_class(False, "pending")
        panel.set_class(False, "defaulter")
        if customer is None:
            panel.update("[dim]No customer\nF2 to attach[/]")
            return
        text = (f"[b]{escape(printable(customer.label))}[/]\n"
                f"{escape(printable(format_phone(customer.phone or customer.mobile) or customer.code))}")
        if customer.payment_status == 1:
            text += "\n[b $warning]PENDING PAYMENTS[/]"
        elif customer.payment_status == 2:
            text += "\n[b $error]DEFAULTER[/]"
        self.customer_text = text
        panel.update(text)

    def on_scan_too_long(self, event) -> None:
        event.stop()
        if event.dropped:
            self.say(f"{event.dropped:,} characters dropped (a stuck key, or a scanner in the wrong mode?): "
                     "the register is ready; scan again.", error=True)
        else:
            self._overflow()

    def _overflow(self) -> None:
        self.say(f"That was longer than any code ({CODE_MAX} characters): a stuck key, or a scanner in the wrong "
                 "mode? It was dropped; scan again.", error=True)

    def say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        message.update(Text(text))   # plain: "[printer] drawer" is a config key, not markup
        message.set_class(error, "error")
        if error:
            self.app.bell()

    # ------------------------------------------------------------ helpers

    @property
    def selected_line(self) -> int | None:
        key = self.query_one("#lines", NoteLines).cursor_key
        return int(key) if key is not None else None

    def lost_words(self) -> str:
        """What this screen says when a call finds the database gone (the one handler in widgets/calls.py)."""
        return self._after_outcome("The database cannot be reached: nothing was lost. Scans are kept and added "
                                   "when it is back.")

    def gate(self, action: str, title: str, then: Callable[[users.Person | None], None], *,
             always_ask: bool = False) -> None:
        """Run `then(person)` when the signed-in user may do `action` (`[permissions]`), else ask for the PIN
        of someone who may (the one gate, screens/gate.py). `always_ask`: a PIN each time even for those who
        may (the drawer: every opening has a named hand)."""
        ask_approval(self, action, then, say=lambda text, error: self.say(text, error=error), user=self.user,
                     title=title, cancelled="Cancelled: nothing was changed.", always_ask=always_ask)

    def _line_changed(self, result: object) -> None:
        (line, summary), state = result  # type: ignore[misc]
        self._put_line(line)
        self._show_summary(summary, state)

    # ------------------------------------------------------------ scanning


    def on_scanned(self, event: Scanned) -> None:
        """A scanner's code: a product or a customer card. A typed `3*` in the field multiplies it."""
        event.stop()
        field = self.query_one("#code", Input)
        prefix = field.value if QTY_PREFIX.match(field.value) else ""
        if self.add_code(prefix + event.code, refused_back=prefix) and prefix:
            field.value = ""

    def add_code(self, text: str, *, typed: bool = False, added: Callable[[], None] | None = None,
                 refused_back: str = "") -> bool:
        """A code typed or scanned: a product line, or a customer's loyalty card, looked up in the worker
        after the calls asked before it (so scans apply in order). True: taken (the field empties).

        While the database is unreachable, codes are kept in order and added when it is back. A code the
        register refuses (a misread) is said, and a typed one goes back into the empty field to be fixed
        (a scanned one gives back the `3*` typed before it: `refused_back`).
        """
        if self.app.db_down or self.app.switching:
            return self._keep(text)
        note_id = self.note_id

        def scan() -> tuple[ScanResult, LoyaltyState | None] | None:
            if self.app.db_down or self.app.switching:   # lost while this one waited: kept with the others
                return None
            result = self.sales.scan(self.note_id if self.note_id is not None else note_id, text)
            return result, (self.sales.loyalty(self.note_id) if self.customer_text and result.customer is None
                            else None)

        def scanned(got: tuple[ScanResult, LoyaltyState | None] | None) -> None:
            if got is None:
                self._keep(text)
                return
            result, state = got
            self.outcome = ""   # the next sale has begun
            if result.customer is not None:
                self.load_note()  # attached and repriced
                self.say(f"Customer {result.customer.label} attached.")
                self._invoice_notice(result.customer.id, f"Customer {result.customer.label} attached.")
            else:
                self._put_line(result.line)
                self._show_summary(result.summary, state)
                self.say("")
            if added is not None:
                added()

        def refused(error: BaseException) -> None:
            if self.app.db_down or self.app.switching or is_connection_error(error):
                self._keep(text)
                return
            back = text if typed else refused_back   # a typed code the register refused: back to fix
            field = self.query_one("#code", Input)
            if back and not field.value:
                field.value = back
        self.run_db(scan, scanned, failed=refused, name="scan")
        return True

    def _keep(self, text: str) -> bool:
        self.kept_codes.append(text)
        self.say(self._after_outcome(f"The database cannot be reached: {len(self.kept_codes)} codes kept, added "
                                     "when it is back. The note is safe."), error=True)
        return True

    def on_screen_resume(self) -> None:
        if self.back_unseen and not self.app.db_down and not self.paying:
            self._database_back()

    def _after_outcome(self, text: str) -> str:
        """`text` after the last sale's outcome while it is the latest news: what happened stays said."""
        return f"{self.outcome} {text}" if self.outcome else text

    # ------------------------------------------------------------ the server away and back (issue 24)

    def on_went_offline(self, event: WentOffline) -> None:
        """The register now sells on its replica: the note goes on there, as the cashier last saw it."""
        if self.on_replica:
            # the note never left the replica (the server went again before it could go back): go on with it
            self.app.switching = False
            return
        self.left_on_server, self.on_replica = self.note_id, True
        self._carry(carried_from=self.note_id, cancel_note=None, where="OFFLINE: the note goes on on this "
                    "register", empty="OFFLINE: selling on this register until the server is back.")

    def _carry(self, *, carried_from: int | None, cancel_note: int | None, where: str, empty: str,
               undo: Callable[[], None] | None = None) -> None:
        lines = list(self.shown.values())
        customer = self.shown_customer
        payments = self.shown_payments
        offline = self.sales.offline
        if not self.on_replica and customer is not None and offline is not None:
            customer = offline.server_customer(customer)    # made offline: its server id now (None: not there)
        uid = self.user.id if self.user else None

        def carried(result: Any) -> None:
            self.note_id = result.note_id
            self.app.switching = False
            kept, self.kept_codes = self.kept_codes, []
            left = f" ({', '.join(result.dropped)} not known here: scan again)" if result.dropped else ""
            n = result.lines
            said = f"{where}: {n} line{'' if n == 1 else 's'}{left}." if n or left else empty
            self.say(self._after_outcome(said))

            def again() -> None:
                for code in kept:
                    self.add_code(code)
            self.load_note(again)

        def not_carried(_: BaseException) -> None:
            self.app.switching = False
            if undo is not None:
                undo()
        self.run_db(lambda: self.sales.carry(lines, customer, cashier_id=uid, carried_from=carried_from,
                                             cancel_note=cancel_note, payments=payments),
                    carried, failed=not_carried, name="carry")

    def on_database_back(self, event: DatabaseBack | None = None) -> None:
        if self.on_replica and self.paying:
            self.carry_back_waiting = True      # what the payment window ends with decides what goes back
            return
        if self.on_replica:
            # back on the server: the note not yet paid goes back there, the one left behind is cancelled
            self.on_replica = False
            left, self.left_on_server = self.left_on_server, None

            def still_on_replica() -> None:   # the server went again first: the note stays where it is
                self.on_replica, self.left_on_server = True, left
            self._carry(carried_from=None, cancel_note=left, where="The server is back: the note goes on there",
                        empty="The server is back.", undo=still_on_replica)
            return
        self._database_back()

    def _database_back(self) -> None:
        """Repaint the note from the database (or open the one after a sale), then add the codes kept
        meanwhile, in order. Under another screen (the payment, whose outcome may not be known yet) it
        waits until that one closes: it says nothing about a note it cannot see the end of."""
        if self.app.screen is not self:
            self.back_unseen = True
            return
        self.back_unseen = False
        kept, self.kept_codes = self.kept_codes, []
        count = [0]

        def counted() -> None:
            count[0] += 1

        def said(_: object) -> None:
            if self.app.db_down:
                return
            if kept:
                self.say(f"The database is back: {count[0] + len(self.kept_codes)} kept codes added.")
            else:
                self.say(self._after_outcome("The database is back."))

        def repainted() -> None:
            if not kept:
                said(None)         # said with the repaint: nothing waits behind it
                return
            for code in kept:
                self.add_code(code, added=counted)
            self.run_db(lambda: None, said, name="back")

        def not_repainted(_: BaseException) -> None:
            if self.app.db_down:
                self.kept_codes = kept + self.kept_codes
        if self.next_waiting:
            self.go_on(self.next_note_id, then=repainted, failed=not_repainted)
        else:
            self.load_note(repainted, not_repainted)

    def action_cursor(self, step: int) -> None:
        self.query_one("#lines", NoteLines).move_cursor(step)

    def action_clear(self) -> None:
        self.query_one("#code", Input).value = ""
        self.say("")

    # ------------------------------------------------------------ line actions

    def _need_line(self) -> int | None:
        line_id = self.selected_line
        if line_id is None:
            self.say("The note has no lines yet: scan something first.", error=True)
        return line_id

    def action_customer(self) -> None:
        code = self.query_one("#code", Input)
        initial = code.value
        code.value = ""

        def chosen(outcome: LookupOutcome | None) -> None:
            if outcome is None:
                return
            uid = self.user.id if self.user else None
            if outcome.action == "detach":
                def detached(_: object) -> None:
                    self.load_note()
                    self.say("Customer removed from the note.")
                self.run_db(lambda: self.sales.detach_customer(self.note_id), detached, name="detach")
                return

            def attach() -> NoteView:
                customer_id = outcome.customer_id
                if outcome.action == "create_phone":
                    customer_id = customers.create_with_phone(
                        outcome.phone, region=self.phone_region, user_id=uid, register=self.sales.register_code,
                        invite=outcome.invite).id
                return self.sales.attach_customer(self.note_id, customer_id)

            def attached(view: NoteView) -> None:
                self.load_note()
                label = view.customer.label if view.customer else ""
                if outcome.action == "create_phone":
                    self.say(f"New customer {label} attached" + ("." if outcome.invite else ", no SMS."))
                else:
                    self.say(f"Customer {label} attached.")
                    if view.customer:
                        self._invoice_notice(view.customer.id, f"Customer {label} attached.")
            self.run_db(attach, attached, name="attach")
        self.app.push_screen(CustomerLookup(self.phone_region, self.user, self.sales.register_code, self.money,
                                            receipt_text_for(self.sales, self.money.plain),
                                            initial, max_adjustment=self.max_adjustment), chosen)

    def action_search(self) -> None:
        code = self.query_one("#code", Input)
        initial = code.value
        code.value = ""

        def picked(sku: str | None) -> None:
            if sku:
                self.add_code(sku)
        self.app.push_screen(ProductSearch(self.money, initial), picked)

    def action_quantity(self) -> None:
        line_id = self._need_line()
        if line_id is None:
            return

        def answered(text: str | None) -> None:
            if text is None:
                return
            try:
                qty = parse_qty(text)
            except PosError as exc:
                self.say(str(exc), error=True)
                return
            self.run_db(lambda: self.with_loyalty(self.sales.set_qty(self.note_id, line_id, qty)),
                        self._line_changed, name="qty")

        def ask(current: LineView) -> None:
            self.app.push_screen(PromptDialog(f"Quantity of {current.name}", "1 to 9999",
                                              value=str(current.qty)), answered)
        self.run_db(lambda: self.sales.line_view(line_id), ask, name="line")

    def action_discount(self) -> None:
        line_id = self._need_line()
        if line_id is None:
            return

        def answered(text: str | None) -> None:
            if not text:
                return
            raw = text.strip()
            try:
                if raw.endswith("%"):
                    kwargs = {"percent_bp": parse_percent_bp(raw, "discount")}
                else:
                    kwargs = {"cents": parse_money(raw, "discount")}
            except PosError as exc:
                self.say(str(exc), error=True)
                return
            uid = self.user.id if self.user else None
            self.with_manager(lambda approver: self.with_loyalty(self.sales.set_discount(
                self.note_id, line_id, user_id=uid, approver_id=approver, **kwargs)), self._line_changed)
        self.app.push_screen(PromptDialog("Line discount", "10% for a percentage, 1.50 for an amount, 0 to remove"),
                             answered)

    def action_price(self) -> None:
        line_id = self._need_line()
        if line_id is None:
            return

        def answered(text: str | None) -> None:
            if not text:
                return
            try:
                cents = parse_money(text, "price")
            except PosError as exc:
                self.say(str(exc), error=True)
                return
            uid = self.user.id if self.user else None
            self.with_manager(lambda approver: self.with_loyalty(self.sales.override_price(
                self.note_id, line_id, cents, user_id=uid, approver_id=approver)), self._line_changed)
        self.app.push_screen(PromptDialog("Price override", "New unit price (needs a manager)"), answered)

    def action_delete_line(self) -> None:
        line_id = self._need_line()
        if line_id is None:
            return
        uid = self.user.id if self.user else None

        def removed(result: tuple[Summary, LoyaltyState | None]) -> None:
            self.query_one("#lines", NoteLines).remove(str(line_id))
            self.shown.pop(line_id, None)
            self._show_summary(*result)
            self.say("Line deleted.")
        self.with_manager(lambda approver: self.with_loyalty(self.sales.delete_line(
            self.note_id, line_id, user_id=uid, approver_id=approver)), removed)

    # ------------------------------------------------------------ note actions

    def new_note(self, note_id: int | None = None, then: Callable[[], None] | None = None,
                 failed: Callable[[BaseException], None] | None = None) -> None:
        """Go on with a new note: `note_id` when the completed sale opened it, else the register's open one."""
        uid = self.user.id if self.user else None

        def opened(opened_id: int) -> None:
            self.note_id = opened_id
        self.run_db(lambda: note_id or self.sales.open_note(uid), opened, failed=failed, name="open-note")
        self.load_note(then, failed)

    def go_on(self, note_id: int | None = None, then: Callable[[], None] | None = None,
              failed: Callable[[BaseException], None] | None = None) -> None:
        """After a completed sale: the next note; if the database goes first, it opens when it is back
        (scans meanwhile are kept for it), and the sale's outcome stays on screen."""
        self.next_waiting, self.next_note_id = True, note_id

        def opened() -> None:
            self.next_waiting = False
            if then is not None:
                then()
        self.new_note(note_id, opened, failed)

    def action_park(self) -> None:
        def parked(ready: str) -> None:
            self.new_note()
            self.say({"ready": "Web order ready for pick-up, parked. F12 brings it back.",
                      "ready-told": "Web order ready for pick-up, parked; the customer is told. F12 brings it "
                                    "back."}.get(ready, "Note parked. F12 brings it back."))

        def answered(label: str | None) -> None:
            if label is not None:
                self.run_db(lambda: self.sales.park(self.note_id, label), parked, name="park")

        def checked(refusal: str | None) -> None:
            if refusal:
                self.say(refusal, error=True)
                return
            self.app.push_screen(PromptDialog("Park this note", "A name to find it by (optional)"), answered)
        self.run_db(lambda: self.sales.park_refusal(self.note_id), checked, name="park-check")

    def action_resume(self) -> None:
        def resumed(note_id: int) -> None:
            self.note_id = note_id
            self.load_note()
            self.say("Parked note resumed.")

        def chosen(note_id: str | None) -> None:
            if note_id is not None:
                self.run_db(lambda: self.sales.resume(int(note_id), self.note_id), resumed, name="resume")

        def listed(parked: list) -> None:
            options = [(str(p.id), (f"{p.label}  ·  {p.line_count} line{'' if p.line_count == 1 else 's'}  ·  "
                                    f"{self.money(p.total_cents)}")) for p in parked]
            self.app.push_screen(ChoiceDialog("Parked notes", options, "No parked notes."), chosen)
        self.run_db(self.sales.parked, listed, name="parked")

    def action_sales_mode(self) -> None:
        def chosen(mode: str | None) -> None:
            if mode:
                self.run_db(lambda: self.sales.set_sales_mode(self.note_id, mode), lambda _: self.load_note(),
                            name="mode")   # what the note earns depends on its mode
        self.app.push_screen(ChoiceDialog("Sales mode", [(m, m) for m in self.sales.sales_modes]), chosen)

    def action_cancel_note(self) -> None:
        uid = self.user.id if self.user else None

        def cancelled(_: object) -> None:
            self.new_note()
            self.say("Note cancelled.")
        self.with_manager(lambda approver: self.sales.cancel(self.note_id, user_id=uid, approver_id=approver)
                          or True, cancelled)

    def action_redeem(self) -> None:
        def done(summary: Summary | None) -> None:
            if summary is not None:
                self.load_note()
                t = summary.totals
                self.say(f"Points redeemed: {self.money(t.redeemed_cents)} off." if t.redeemed_cents
                         else "No points redeemed on this note.")
        def ask(state: object) -> None:
            if state is not None:
                self.app.push_screen(RedeemDialog(self.sales, self.note_id, state, self.money), done)
        self.run_db(lambda: self.sales.loyalty_required(self.note_id), ask, name="redeem")

    def action_pay(self) -> None:
        """F10: after the scans asked before it (their lines are on screen then), an offer first, or pay."""
        def offered(saved: bool | None) -> None:
            if saved:
                self.load_note()
            self._open_payment()

        def checked(offer: tuple | None) -> None:
            if offer is None:
                self._open_payment()
            else:
                self.app.push_screen(OfferScreen(self.sales, self.note_id, *offer), offered)

        def offer() -> tuple | None:
            """In the worker: what the Offer tab shows, or None when there is nothing to offer."""
            if not self.sales.can_offer(self.note_id):
                return None
            return (self.sales.loyalty(self.note_id), self.sales.offer_lines(self.note_id),
                    self.sales.reward_lines(self.note_id))

        def ready(_: object) -> None:
            if not self.query_one("#lines", NoteLines).row_count:
                self.say("The note is empty: scan something first.", error=True)
                return
            self.run_db(offer, checked, name="offer")
        self.run_db(lambda: None, ready, name="pay")

    def _open_payment(self) -> None:
        def finished(result: PayResult | None) -> None:
            self.paying = False
            if self.carry_back_waiting:
                # the server came back meanwhile: a sale paid on the replica is done (its receipt goes with
                # the journal); what is left of the note (nothing, after a sale) goes on on the server
                self.carry_back_waiting = False
                if result is not None:
                    change = f" Change {self.money(result.change_cents)}." if result.change_cents else ""
                    self.outcome = f"Paid: receipt {result.receipt_no}.{change}"
                    self.say(self.outcome)
                    self.shown, self.shown_customer, self.shown_payments = {}, None, ()
                    sync_soon = getattr(self.app, "sync_soon", None)
                    if sync_soon is not None:
                        sync_soon()       # the receipt prints from the server's queue once the journal is sent
                self.on_database_back()
                return
            if result is None:
                if self.back_unseen:
                    self.on_database_back()
                else:
                    self.run_db(lambda: self.with_loyalty(self.sales.summary(self.note_id)),
                                lambda got: self._show_summary(*got), name="summary")
                return
            change = f" Change {self.money(result.change_cents)}." if result.change_cents else ""
            self.outcome = f"Paid: receipt {result.receipt_no}.{change}"
            self.say(self.outcome)       # known now: said before anything else can fail
            self.app.receipt_queued()
            self.back_unseen = False     # the next note is read afresh now
            self.go_on(result.next_note_id)
        self.paying = True
        def taken(tender: str, paid_cents: int) -> None:
            # a part payment: carried with the note if the server goes (never asked of the customer twice)
            amount = paid_cents - sum(cents for _, cents in self.shown_payments)
            if amount:
                self.shown_payments = (*self.shown_payments, (tender, amount))
        self.app.push_screen(PaymentScreen(self.sales, self.note_id, self.money,
                                           self.user.id if self.user else None, taken=taken), finished)

    def action_return(self) -> None:
        def finished(receipt_no: str | None) -> None:
            if receipt_no:
                self.outcome = f"Refund done: receipt {receipt_no}."
                self.say(self.outcome)
                self.app.receipt_queued()
        self.app.push_screen(ReturnScreen(self.sales, self.money, self.user.id if self.user else None), finished)

    def action_switch_user(self) -> None:
        """Ctrl+U: sign out; the next cashier types their PIN. Every sale is credited to who is signed in."""
        if self.user is None:
            self.say("No users on this register: nobody to switch to (tui-pos user add).", error=True)
            return
        self.app.sign_out()

    def action_keys(self) -> None:
        keymap = self.keys      # the user's [keys], shown as they are
        rows = [(key_label(self.app.get_key_display(replace(b, key=keymap.get(b.id or "", b.key).split(",")[0]))),
                 b.description) for b in self.BINDINGS if b.show or b.key.startswith("ctrl")]
        rows.append(("^Q", f"Quit ({users.permissions().role_for('quit')} PIN)"))
        cells = [f"{k:<5} {d}"[:40] for k, d in rows]
        half = (len(cells) + 1) // 2     # two columns: every key on one 80x25 console screen
        text = "\n".join(f"{left:<41}{right}".rstrip()
                         for left, right in zip(cells[:half], cells[half:] + [""]))
        text += "\nEnter add the code typed or scanned; 3*CODE adds three"
        if self.user is not None:   # signed in: what this user may do ([permissions])
            text += f"\n\n{self.user.name} ({self.user.role}):\n" + "\n".join(
                users.permissions().describe(self.user.role, width=70))
        self.app.push_screen(InfoDialog("Keys", text))

    def action_reprint(self) -> None:
        def found(last: str | None) -> None:
            if last is None:
                self.say("No receipt to reprint yet.", error=True)
                return
            self._reprint(last)
        self.run_db(self.sales.last_receipt_no, found, name="last-receipt")

    def _reprint(self, number: str) -> None:
        """Queue a copy in the worker; the printer's sender starts when it is queued."""
        def queued(done: str) -> None:
            self.app.receipt_queued()
            self.say(f"Reprinting {done}.")
        self.run_db(lambda: self.sales.reprint(number), queued, name="reprint")

    def action_reprint_number(self) -> None:
        def answered(number: str | None) -> None:
            if number:
                self._reprint(number)

        def ask(last: str | None) -> None:
            self.app.push_screen(PromptDialog("Reprint a receipt", "Its number (or scan its barcode)",
                                              value=last or "", placeholder="R1-000042"), answered)
        self.run_db(self.sales.last_receipt_no, ask, name="last-receipt")

    def _server_only(self, what: str) -> bool:
        """While the register sells offline, what lives on the server waits for it (docs/offline.md)."""
        if getattr(self.app, "selling_offline", False):
            self.say(f"The register is offline: {what} open when the server is back. Selling goes on.",
                     error=True)
            return True
        return False

    def action_loyalty(self) -> None:
        """Seed 000's "Go to Loyalty": statistics, report and program settings, for managers."""
        from tui_pos.screens.loyalty_admin import LoyaltyAdmin
        if self._server_only("the loyalty settings and figures"):
            return

        def open_as(person: users.Person | None) -> None:
            self.app.push_screen(LoyaltyAdmin(self.money, person, self.sales.register_code,
                                              sales_modes=list(self.sales.sales_modes)))
        self.gate("loyalty_settings", "Loyalty", open_as)

    def action_messages(self) -> None:
        """Ctrl+G: the outbox and campaigns, for managers (seeds 001, 004)."""
        from tui_pos.screens.messages import MessagesScreen
        if self._server_only("the messages"):
            return
        settings = self.sales.messaging or self.messaging

        def open_as(person: users.Person | None) -> None:
            self.app.push_screen(MessagesScreen(settings, person))
        self.gate("messages", "Messages", open_as)

    def _invoice_notice(self, customer_id: int, said: str) -> None:
        """With electronic invoices on: a customer whose RUC cannot go on the invoice is said at once (issue 22:
        "the cashier sees why"); the sale goes on, invoiced to a final consumer."""
        if self.sales.fiscal is None:
            return
        from tui_pos.services import fiscal

        def told(problem: str) -> None:
            if problem:
                self.say(f"{said} {problem}", error=True)
        self.run_db(lambda: fiscal.receiver_problem(customer_id), told, name="invoice-receiver")

    def action_fiscal(self) -> None:
        """Ctrl+B: the electronic invoices (docs/fiscal.md), for managers."""
        from tui_pos.screens.fiscal import FiscalScreen
        if self._server_only("the electronic invoices"):
            return
        self.gate("fiscal", "Electronic invoices", lambda person: self.app.push_screen(FiscalScreen()))

    def action_day(self) -> None:
        """Ctrl+E: the X report, and the Z that closes the day (a manager's)."""
        from tui_pos.screens.day import DayScreen
        if self._server_only("the day's reports (X and Z)"):
            return
        if self.day is None:
            self.say("The close of day is not set up on this screen.", error=True)
            return
        self.app.push_screen(DayScreen(self.money, self.user, self.day))

    def action_open_drawer(self) -> None:
        if not self.has_drawer:
            self.say("No cash drawer here: it needs a printer with [printer] drawer = true.", error=True)
            return
        def opened(person: users.Person | None) -> None:
            self.app.open_drawer(person.id if person else None)
            self.say(f"Drawer opened by {person.name} (logged)." if person else "Drawer opened (logged).")
        self.gate("drawer", "Open the cash drawer", opened, always_ask=True)
