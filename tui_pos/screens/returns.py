"""F7: a return. Scan or type the receipt number, pick lines, refund."""

from __future__ import annotations

import uuid

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from tui_pos.domain.errors import PosError
from tui_pos.domain.text import printable
from tui_pos.services import returns
from tui_pos.services.connection import is_connection_error
from tui_pos.services.sales import SaleService
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.devices import DatabaseBack, Scanned
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class ReturnScreen(Guarded, DatabaseCalls, ModalScreen[str | None]):
    """Returns the refund's receipt number, or None."""

    manager_cancelled = "No approval: nothing was refunded."
    manager_refused = "Nothing was refunded."

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="return.cancel"),
        Binding("space", "toggle", "All/none", id="return.toggle"),
        Binding("plus,equals_sign", "adjust(1)", "+1", id="return.more"),
        Binding("minus", "adjust(-1)", "-1", id="return.less"),
        Binding("ctrl+t", "next_tender", "Tender", id="return.tender", priority=True),
        # not a priority binding: a priority key is handled before the keys typed just before it (Space, then
        # F10 at once, refunded nothing: "Pick at least one line")
        Binding("f10", "refund", "Refund", id="return.refund"),
    ]

    def __init__(self, sales: SaleService, money, user_id: int | None = None) -> None:
        super().__init__()
        self.sales = sales
        self.money = money
        self.user_id = user_id
        self.receipt: returns.ReturnableReceipt | None = None
        self.picks: dict[int, int] = {}
        self.tender_index = 0
        self.request_id: str | None = None    # names the refund being tried, kept until its outcome is known
        self.waiting: tuple | None = None     # (approver,) of a refund whose answer was lost

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="return"):
            yield Label("Return", classes="dialog-title")
            yield Input(placeholder="scan or type the receipt number, e.g. R1-000042", id="receipt")
            yield DataTable(id="return-lines", cursor_type="row")
            yield Static("", id="return-info")
            yield HelpLine("Space: all/none  +/-: quantity  Ctrl+T: tender  F10: refund  Escape: back",
                        classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Item", key="item")
        table.add_column("Sold", key="sold")
        table.add_column("Returned", key="returned")
        table.add_column("Return", key="back")
        self._info()

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py), under the refund's figure."""
        self._info(text, error=error)

    def _info(self, message: str = "", error: bool = False) -> None:
        tender = self.sales.tenders[self.tender_index]
        total = 0
        if self.receipt:
            lines = {line.line_id: line for line in self.receipt.lines}
            total = sum(lines[i].refund_for(q) for i, q in self.picks.items() if q)
        text = f"Refund {self.money(total)} in {tender}"
        if message:
            text += f"\n{message}"
        info = self.query_one("#return-info", Static)
        info.update(text)
        info.set_class(error, "error")

    @on(Input.Submitted, "#receipt")
    def _load(self, event: Input.Submitted) -> None:
        self.load(event.value)

    def on_scanned(self, event: Scanned) -> None:
        """The receipt's barcode, scanned: load that receipt, wherever the focus is."""
        event.stop()
        self.query_one("#receipt", Input).value = event.code
        self.load(event.code)

    def _busy(self) -> bool:
        """A refund waits for the database's answer: nothing about it changes until that is known."""
        if self.waiting is not None:
            self._info("This refund waits for the database's answer: nothing changes until it is known.",
                       error=True)
        return self.waiting is not None

    def load(self, number: str) -> None:
        if self._busy():
            return
        self.run_db(lambda: returns.find(number), self._loaded, name="find-receipt")

    def _loaded(self, receipt: returns.ReturnableReceipt) -> None:
        self.receipt = receipt
        self.picks = {}
        self.request_id = None
        table = self.query_one(DataTable)
        table.clear()
        for line in receipt.lines:
            table.add_row(Text(printable(line.name)), str(line.sold_qty), str(line.returned_qty), "0",
                          key=str(line.line_id))   # a name is text, never markup ("Tea [/i] pot")
        table.focus()
        self._info(f"{receipt.receipt_no}: pick what comes back.")

    def _set(self, qty: int) -> None:
        if not self.receipt or not self.receipt.lines or self._busy():
            return
        table = self.query_one(DataTable)
        line = self.receipt.lines[table.cursor_row]
        qty = max(0, min(qty, line.returnable_qty))
        self.picks[line.line_id] = qty
        table.update_cell(str(line.line_id), "back", str(qty))
        self._info("" if line.returnable_qty else f"{line.name}: everything sold was already returned.",
                   error=not line.returnable_qty)

    def action_toggle(self) -> None:  # type: ignore[override]  # the key's action, not DOMNode's
        if self.receipt and self.receipt.lines:
            line = self.receipt.lines[self.query_one(DataTable).cursor_row]
            self._set(0 if self.picks.get(line.line_id) else line.returnable_qty)

    def action_adjust(self, step: int) -> None:
        if self.receipt and self.receipt.lines:
            line = self.receipt.lines[self.query_one(DataTable).cursor_row]
            self._set(self.picks.get(line.line_id, 0) + step)

    def action_next_tender(self) -> None:
        if self._busy():
            return
        self.tender_index = (self.tender_index + 1) % len(self.sales.tenders)
        self._info()

    def action_refund(self, approver_id: int | None = None) -> None:
        if not self.receipt:
            self._info("Scan or type the receipt number first.", error=True)
            return
        if self.waiting is not None:
            self._info("This refund waits for the database's answer: it is asked again when it is back, and "
                       "made once.", error=True)
            return
        if self.db_asked("refund"):   # the refund asked is on its way: F10 again makes nothing more
            return
        request_id = self.request_id = self.request_id or uuid.uuid4().hex
        receipt_no, picks, tender = self.receipt.receipt_no, dict(self.picks), self.sales.tenders[self.tender_index]
        approver = [approver_id]

        def refund(by: int | None) -> str:
            """In the worker; again with the approver when a manager must approve (the one gate)."""
            approver[0] = by if by is not None else approver_id
            return returns.refund(self.sales, receipt_no, picks, tender, user_id=self.user_id,
                                  approver_id=approver[0], request_id=request_id)

        def not_made(error: BaseException) -> None:
            if is_connection_error(error):
                self.waiting = (approver[0],)
                self._info("The database cannot be reached, and its answer did not come: whether this refund "
                           "was made is checked when it is back, and it is made once. Give no money back yet.",
                           error=True)
            elif isinstance(error, PosError):
                self.request_id = None   # refused, nothing written: the next F10 is another refund
        self.with_manager(refund, self.dismiss, failed=not_made, name="refund")

    def on_database_back(self, event: DatabaseBack) -> None:
        """Ask again with the same request id: a refund the database made is answered as it was."""
        if self.waiting is not None:
            (approver_id,), self.waiting = self.waiting, None
            self.action_refund(approver_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
