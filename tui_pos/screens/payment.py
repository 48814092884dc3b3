"""F10: take payment. Enter on an empty amount pays the rest in cash and completes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_pos.domain.money import parse_money
from tui_pos.services.connection import is_connection_error
from tui_pos.services.sales import PayResult, SaleService, Summary
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.devices import DatabaseBack, WentOffline
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class PaymentScreen(Guarded, DatabaseCalls, ModalScreen[PayResult | None]):
    """Returns the completing PayResult, or None when the cashier goes back."""

    manager_cancelled = manager_refusal = "No approval: the payment was not taken."

    BINDINGS = [
        Binding("escape", "cancel", "Back to note", id="pay.cancel"),
        Binding("down", "tender(1)", "Next tender", show=False, id="pay.next"),
        Binding("up", "tender(-1)", "Previous tender", show=False, id="pay.prev"),
    ]

    def __init__(self, sales: SaleService, note_id: int, money, user_id: int | None = None,
                 taken: Callable[[str, int], None] | None = None) -> None:
        super().__init__()
        self.taken = taken         # told of each part payment (the sale screen carries them if the server goes)
        self.sales = sales
        self.note_id = note_id
        self.money = money
        self.user_id = user_id     # the cashier signed in: the sale is theirs
        self.pending: tuple | None = None   # (text, tender, approver, request id) waiting for the database
        self.on_replica = sales.selling_offline   # opened while the register sold offline (docs/offline.md)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="payment"):
            yield Label("Payment", classes="dialog-title")
            yield Static(id="pay-figures")
            with Horizontal(id="pay-entry"):
                yield OptionList(*[Option(t.capitalize(), id=t) for t in self.sales.tenders], id="tenders")
                yield Input(placeholder="amount (empty: rest in cash)", id="amount")
            yield Static("", id="pay-message")
            yield HelpLine("Up/Down: tender   Enter: pay   Escape: back to the note", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#tenders", OptionList).highlighted = 0
        self.query_one("#amount", Input).focus()
        def unread(error: BaseException) -> None:
            if is_connection_error(error):
                self._say("The database cannot be reached: nothing is taken yet. The note is safe; pay when it "
                          "is back.")
        self.run_db(lambda: self.sales.summary(self.note_id), self._show, failed=unread, name="pay-summary")

    def _show(self, summary: Summary) -> None:
        m = self.money
        self.query_one("#pay-figures", Static).update(
            f"TOTAL  [b]{m(summary.totals.total_cents)}[/]\n"
            f"Paid   {m(summary.paid_cents)}\n"
            + (f"Due    [b]{m(summary.due_cents)}[/]" if summary.due_cents >= 0 else
               f"Change [b]{m(-summary.due_cents)}[/]  (overpaid: Enter completes the sale)"))

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py): a refusal rings, as the payment always did."""
        self._say(text, error=error)
        if error:
            self.app.bell()

    def _say(self, text: str, error: bool = True) -> None:
        msg = self.query_one("#pay-message", Static)
        msg.update(text)
        msg.set_class(error, "error")

    def action_tender(self, step: int) -> None:
        tenders = self.query_one("#tenders", OptionList)
        current = tenders.highlighted or 0
        tenders.highlighted = (current + step) % tenders.option_count

    @property
    def tender(self) -> str:
        tenders = self.query_one("#tenders", OptionList)
        return tenders.get_option_at_index(tenders.highlighted or 0).id or "cash"

    @on(Input.Submitted, "#amount")
    def _pay(self, event: Input.Submitted) -> None:
        if self.pending is not None:
            self._say("This payment waits for the database's answer: it is asked again when the database is "
                      "back, and taken once.")
            return
        if self.db_asked("pay"):    # the payment asked is on its way: Enter again takes nothing more
            return
        self.take(event.value.strip())

    def on_went_offline(self, event: WentOffline) -> None:
        """The register now sells on its replica; the note goes on there (the sale screen carries it), and
        is paid there. A payment whose answer never came is checked when the journal reaches the server."""
        self.pending = None
        self.dismiss(None)
        self.app.notify("The server went away while paying: the note goes on offline. Take the payment again "
                        "if the customer has not paid; the manager sees it if the first one went through.",
                        severity="warning", timeout=10)

    def on_database_back(self, event: DatabaseBack) -> None:
        if self.on_replica:
            if self.db_asked("pay"):
                return        # a payment on the replica is on its way: its answer closes this window
            self._left_replica()
            return
        self._asked_again()

    def _left_replica(self) -> None:
        """Back on the server: the sale screen carries the note there, with a new id; it is paid there."""
        self.dismiss(None)
        self.app.notify("The server is back: the note goes on there. Pay the rest there.", timeout=6)

    def _asked_again(self) -> None:
        """Ask again with the same request id: a payment the database took is answered as it was (the
        receipt), one it did not is taken now; either way once, and said as soon as it is known."""
        if self.pending is not None:
            text, tender, approver_id, request_id = self.pending
            self.pending = None
            self.take(text, approver_id, tender=tender, request_id=request_id)
            return
        def shown(summary: Summary) -> None:
            self._show(summary)
            self._say("", error=False)
        self.run_db(lambda: self.sales.summary(self.note_id), shown, name="pay-summary")

    def take(self, text: str, approver_id: int | None = None, *, tender: str | None = None,
             request_id: str | None = None) -> None:
        """Take what was typed (empty: the rest in cash); a defaulter may need a manager."""
        tender = tender or self.tender
        request_id = request_id or uuid.uuid4().hex
        approver = [approver_id]     # who approved, when the gate asked (kept with a payment left waiting)

        def pay(by: int | None) -> PayResult:
            """In the worker; again with the approver when a manager must approve (the one gate)."""
            approver[0] = by if by is not None else approver_id
            if text:
                return self.sales.pay(self.note_id, tender, parse_money(text), approver_id=approver[0],
                                      request_id=request_id, user_id=self.user_id)
            return self.sales.pay(self.note_id, approver_id=approver[0], request_id=request_id,
                                  user_id=self.user_id)

        def paid(result: PayResult) -> None:
            self.query_one("#amount", Input).value = ""
            if result.completed:
                self.dismiss(result)
                return
            if self.taken is not None:
                self.taken(tender, result.summary.paid_cents)
            if self.on_replica and not self.sales.selling_offline:
                self._left_replica()       # part paid on the replica as the server came back
                return
            self._show(result.summary)
            self._say(f"{tender.capitalize()} taken. Due {self.money(result.summary.due_cents)}.", error=False)

        def unanswered(error: BaseException) -> None:
            if not is_connection_error(error):
                return
            # Whether it was committed cannot be known yet: keep it, and ask again with the same id.
            self.pending = (text, tender, approver[0], request_id)
            self._say("The database cannot be reached, and its answer did not come: whether this payment "
                      "went through is checked when it is back, and it is taken once. Do not take it again.")
        self.with_manager(pay, paid, failed=unanswered, name="pay")

    def action_cancel(self) -> None:
        self.dismiss(None)
