"""F3: product search as you type (name words, SKU, barcode)."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_pos.domain.text import printable
from tui_pos.services import catalog
from tui_pos.services.catalog import ProductView
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class ProductSearch(Guarded, DatabaseCalls, ModalScreen[str | None]):
    """Returns the SKU of the chosen product, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="search.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="search.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="search.up"),
    ]

    def __init__(self, money: Callable[[int], str], text: str = "") -> None:
        super().__init__()
        self.money = money
        self.initial = text
        self.wanted = text     # what the field holds: an answer for older text is dropped

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Find a product", classes="dialog-title")
            yield Input(value=self.initial, placeholder="name, SKU or barcode", id="query")
            yield OptionList(id="results")
            yield HelpLine("Type to search   Up/Down: move   Enter: add   Escape: back", classes="dialog-help")

    def on_mount(self) -> None:
        self._refresh(self.initial)

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        self._refresh(event.value)

    def _refresh(self, text: str) -> None:
        """Search in the screen's worker (never on the UI loop); show the answer if the text is still it."""
        self.wanted = text
        self.run_db(lambda: catalog.search(text, limit=30), lambda found: self._show(text, found), name="search")

    def _show(self, text: str, found: list[ProductView]) -> None:
        if text != self.wanted:
            return
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options([Option(f"{escape(printable(p.name))}  [dim]{escape(p.sku)}[/]  "
                                    f"{self.money(p.price_cents)}", id=p.sku)
                             for p in found])
        if found:
            results.highlighted = 0

    def action_move(self, step: int) -> None:
        results = self.query_one("#results", OptionList)
        if results.option_count:
            current = results.highlighted or 0
            results.highlighted = max(0, min(results.option_count - 1, current + step))

    @on(Input.Submitted, "#query")
    def _submitted(self) -> None:
        results = self.query_one("#results", OptionList)
        if results.highlighted is not None and results.option_count:
            self.dismiss(results.get_option_at_index(results.highlighted).id)

    @on(OptionList.OptionSelected, "#results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
