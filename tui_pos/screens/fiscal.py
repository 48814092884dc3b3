"""Electronic invoices (Ctrl+B, a manager's): the fiscal outbox as `tui-pos fiscal list/show/retry` has it
(docs/fiscal.md). Read and retried in the screen's worker; the register's sender does the sending."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Select, Static, TextArea

from tui_pos.services import fiscal
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded

STATES = [("every state", ""), *[(s, s) for s in fiscal.STATES]]


class FiscalScreen(Guarded, DatabaseCalls, ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="fiscal.close"),
        Binding("f5", "refresh", "Refresh", id="fiscal.refresh"),
        Binding("ctrl+r", "retry", "Retry", id="fiscal.retry", priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full", id="fiscal"):
            yield Label("Electronic invoices", classes="dialog-title")
            with Horizontal(classes="filters"):
                yield Select(STATES, value="", allow_blank=False, id="fiscal-state")
                yield Static("", id="fiscal-counts")
            yield DataTable(id="fiscal-docs", cursor_type="row")
            yield TextArea("", id="fiscal-xml", read_only=True)
            yield Static("", id="fiscal-message")
            yield HelpLine("Enter XML  F5 refresh  Ctrl+R retry  Esc close", classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one("#fiscal-docs", DataTable)
        table.add_columns("number", "receipt", "type", "state", "CUFE or reason")
        self.query_one("#fiscal-xml", TextArea).display = False
        self.action_refresh()
        table.focus()

    def action_refresh(self) -> None:
        state = str(self.query_one("#fiscal-state", Select).value or "") or None
        self.run_db(lambda: (fiscal.listing(state=state), fiscal.counts()), self._show, name="fiscal-list")

    @on(Select.Changed, "#fiscal-state")
    def _state_changed(self, event: Select.Changed) -> None:
        self.action_refresh()

    def _show(self, found: tuple[list[fiscal.DocRow], dict[str, int]]) -> None:
        rows, counts = found
        table = self.query_one("#fiscal-docs", DataTable)
        table.clear()
        for r in rows:     # data: drawn as text, never markup (a provider's message is anybody's words)
            table.add_row(f"{r.point:03d}-{r.number:010d}", r.receipt_no, r.kind, r.state,
                          Text(r.cufe if r.state == "authorized" else (r.reason or r.cufe)[:80]), key=r.receipt_no)
        self.query_one("#fiscal-counts", Static).update(
            Text("  " + ("  ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no documents")))

    def _selected(self) -> str | None:
        table = self.query_one("#fiscal-docs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowSelected, "#fiscal-docs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_show()

    def action_show(self) -> None:
        receipt = self._selected()
        if receipt is None:
            self.say("No document to show.", error=True)
            return

        def shown(xml: str) -> None:
            area = self.query_one("#fiscal-xml", TextArea)
            area.text = xml or "Not built yet: Ctrl+R sends (and builds) it."
            area.display = True
            self.say(f"{receipt}: the document as last sent.")
        self.run_db(lambda: fiscal.xml_of(receipt), shown, name="fiscal-show")   # a PosError is said as it is

    def action_retry(self) -> None:
        receipt = self._selected()

        def queued(n: int) -> None:
            self.say(f"{n} document(s) due now: they go with the next send.")
            send_now = getattr(self.app, "send_fiscal", None)
            if send_now:
                send_now()
            self.action_refresh()
        self.run_db(lambda: fiscal.retry(receipt), queued, name="fiscal-retry")

    def say(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#fiscal-message", Static)
        msg.update(Text(text))
        msg.set_class(error, "error")

    def action_close(self) -> None:
        self.dismiss(None)
