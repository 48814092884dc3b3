"""F7: a return. Scan or type the receipt number, pick lines, refund."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from tui_pos.widgets.safety import Guarded

from tui_pos.domain.errors import PosError
from tui_pos.services import returns
from tui_pos.services.sales import SaleService
from tui_pos.widgets.devices import Scanned
from tui_pos.widgets.keybar import HelpLine


class ReturnScreen(Guarded, ModalScreen[str | None]):
    """Returns the refund's receipt number, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="return.cancel"),
        Binding("space", "toggle", "All/none", id="return.toggle"),
        Binding("plus,equals_sign", "adjust(1)", "+1", id="return.more"),
        Binding("minus", "adjust(-1)", "-1", id="return.less"),
        Binding("ctrl+t", "next_tender", "Tender", id="return.tender", priority=True),
        Binding("f10", "refund", "Refund", id="return.refund", priority=True),
    ]

    def __init__(self, sales: SaleService, money, user_id: int | None = None) -> None:
        super().__init__()
        self.sales = sales
        self.money = money
        self.user_id = user_id
        self.receipt: returns.ReturnableReceipt | None = None
        self.picks: dict[int, int] = {}
        self.tender_index = 0

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

    def load(self, number: str) -> None:
        try:
            self.receipt = returns.find(number)
        except PosError as exc:
            self._info(str(exc), error=True)
            return
        self.picks = {}
        table = self.query_one(DataTable)
        table.clear()
        for line in self.receipt.lines:
            table.add_row(line.name, str(line.sold_qty), str(line.returned_qty), "0", key=str(line.line_id))
        table.focus()
        self._info(f"{self.receipt.receipt_no}: pick what comes back.")

    def _set(self, qty: int) -> None:
        if not self.receipt or not self.receipt.lines:
            return
        table = self.query_one(DataTable)
        line = self.receipt.lines[table.cursor_row]
        qty = max(0, min(qty, line.returnable_qty))
        self.picks[line.line_id] = qty
        table.update_cell(str(line.line_id), "back", str(qty))
        self._info("" if line.returnable_qty else f"{line.name}: everything sold was already returned.",
                   error=not line.returnable_qty)

    def action_toggle(self) -> None:
        if self.receipt and self.receipt.lines:
            line = self.receipt.lines[self.query_one(DataTable).cursor_row]
            self._set(0 if self.picks.get(line.line_id) else line.returnable_qty)

    def action_adjust(self, step: int) -> None:
        if self.receipt and self.receipt.lines:
            line = self.receipt.lines[self.query_one(DataTable).cursor_row]
            self._set(self.picks.get(line.line_id, 0) + step)

    def action_next_tender(self) -> None:
        self.tender_index = (self.tender_index + 1) % len(self.sales.tenders)
        self._info()

    def action_refund(self) -> None:
        if not self.receipt:
            self._info("Scan or type the receipt number first.", error=True)
            return
        try:
            number = returns.refund(self.sales, self.receipt.receipt_no, self.picks,
                                    self.sales.tenders[self.tender_index], user_id=self.user_id)
        except PosError as exc:
            self._info(str(exc), error=True)
            return
        self.dismiss(number)

    def action_cancel(self) -> None:
        self.dismiss(None)
