"""F4 (money off with points) and the Offer tab that F10 opens first (seed 001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from tui_pos.domain.money import parse_money
from tui_pos.domain.offers import OfferPicks
from tui_pos.domain.text import printable
from tui_pos.services.loyalty import NoteLoyalty, OfferLine
from tui_pos.services.sales import SaleService, Summary
from tui_pos.services.stamps import RewardLine
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class RedeemDialog(Guarded, DatabaseCalls, ModalScreen[Summary | None]):
    """Enter: the most allowed. 1-9: a preset. Tab, a number, Enter: that many. 0: none."""

    # nothing focused: keys 1-9 pick presets; Tab (or a digit past the presets) focuses the number field
    AUTO_FOCUS = ""

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="redeem.cancel"),
        Binding("enter", "most", "Most allowed", id="redeem.most"),
        Binding("tab", "type_points", "Type points", id="redeem.type"),
    ]

    def __init__(self, sales: SaleService, note_id: int, state: NoteLoyalty, money: Callable[[int], str]) -> None:
        super().__init__()
        self.sales = sales
        self.note_id = note_id
        self.state = state
        self.money = money

    def compose(self) -> ComposeResult:
        prog = self.state.program
        available = self.state.balance - self.state.offered_points
        presets = "\n".join(f"  {i}: {prog.amount(p.points, self.money)} -> {self.money(p.value_cents)} off"
                            for i, p in enumerate(prog.presets, start=1)) or "  (no presets)"
        if prog.mode == "value":
            # seed 002, value mode: the balance is money, spent as money: no points and no rate to show
            info = (f"Available: {self.money(max(0, available))}, at least {self.money(prog.minimum)} at a time\n"
                    f"Presets:\n{presets}")
            title, placeholder, restrict = "Use the balance", "amount, e.g. 5.00 (Tab to type it)", r"[\d.,]*"
        else:
            worth = self.money(prog.value_of(max(0, available) // prog.step() * prog.step()))
            info = (f"Available: {available} points, worth {worth}\n"
                    f"Rate: {prog.redeem_points} points = {self.money(prog.redeem_value_cents)}, "
                    f"at least {prog.minimum}\n"
                    f"Presets:\n{presets}")
            title, placeholder, restrict = "Redeem points", "points (Tab to type a number)", r"\d*"
        with Vertical(classes="dialog", id="redeem"):
            yield Label(title, classes="dialog-title")
            yield Static(info, id="redeem-info")
            yield Input(placeholder=placeholder, id="redeem-points", restrict=restrict)
            yield Static("", id="redeem-message")
            yield HelpLine("Enter: most allowed  1-9: preset  Tab: type points  0: none  Escape: back",
                        classes="dialog-help")

    def on_mount(self) -> None:
        if not self.state.program.presets:
            self.query_one("#redeem-points", Input).focus()

    def on_key(self, event: Key) -> None:
        field = self.query_one("#redeem-points", Input)
        if field.has_focus or not event.character or not event.character.isdigit():
            return
        event.stop()
        digit = int(event.character)
        if digit == 0:
            self._apply(lambda: self.sales.redeem(self.note_id, 0))
        elif digit <= len(self.state.program.presets):
            self._apply(lambda: self.sales.redeem(self.note_id, preset=digit))
        else:  # the start of a number of points
            field.focus()
            field.value = event.character
            field.cursor_position = 1

    def action_type_points(self) -> None:
        self.query_one("#redeem-points", Input).focus()

    def action_most(self) -> None:
        self._apply(lambda: self.sales.redeem(self.note_id))

    @on(Input.Submitted, "#redeem-points")
    def _typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.action_most()
        elif self.state.program.mode == "value":    # an amount of money: the balance is cents
            self._apply(lambda: self.sales.redeem(self.note_id, parse_money(text, "amount")))
        else:
            self._apply(lambda: self.sales.redeem(self.note_id, int(text)))

    def _apply(self, call: Callable[[], Summary]) -> None:
        """The redemption in the worker (widgets/calls.py); a refusal is said here, the dialog stays."""
        self.run_db(call, self.dismiss, name="redeem")

    def say(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#redeem-message", Static)
        msg.update(text)
        msg.set_class(error, "error")
        if error:
            self.app.bell()

    def action_cancel(self) -> None:
        self.dismiss(None)


class OfferScreen(Guarded, DatabaseCalls, ModalScreen[bool]):
    """Space: Offer/Offered on the highlighted line (a unit at a time). Enter validates, Escape leaves as it was.

    Dismisses True when the offers were saved, False when left unchanged.
    """

    BINDINGS = [
        # both priority: Enter must be (the table would take it), and a priority key overtakes a plain one
        # typed just before it, so Space then Enter at once would validate before the Offer was ticked
        Binding("space", "toggle", "Offer/Offered", id="offer.toggle", priority=True),
        Binding("enter", "validate", "Validate", id="offer.validate", priority=True),
        Binding("escape", "leave", "Without offering", id="offer.leave"),
    ]

    def __init__(self, sales: SaleService, note_id: int, state: NoteLoyalty, lines: list[OfferLine],
                 reward_rows: list[RewardLine]) -> None:
        super().__init__()
        self.sales = sales
        self.note_id = note_id
        self.state = state
        self.lines = lines                    # read by the sale screen's worker (sales.offer_lines)
        self.reward_rows = reward_rows        # stamp-offer rewards the customer holds (sales.reward_lines)
        # the limits (points and rewards left, what one more unit may be) are domain/offers.py's
        # the services' lines carry the fields the domain's PointsLine and RewardLine read (duck-typed)
        points_lines: list[Any] = list(lines)
        reward_lines: list[Any] = list(reward_rows)
        self.picks = OfferPicks(state.balance - state.redeem_points, points_lines, reward_lines,
                                offered={ln.line_id: ln.offered_qty for ln in lines},
                                given={r.line_id: r.reward_qty for r in reward_rows})
        self.rows: list[tuple[str, Any]] = [("p", ln) for ln in lines] + [("r", r) for r in reward_rows]

    @property
    def points_left(self) -> int:
        return self.picks.points_left

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="offer"):
            yield Label("Offer with points", classes="dialog-title")
            yield DataTable(id="offer-lines", cursor_type="row")
            yield Static("", id="offer-left")
            yield HelpLine("Space: Offer/Offered  Enter: validate  Escape: without offering",
                        classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # the state column is as wide as its longest word from the start: "Offered" must never be cut to
        # "Offer" (at 80 columns the cut made Space look like it did nothing)
        widest = max(len(w) for w in ("Offer", "Offered x99", "not enough points", "no reward left"))
        for key, title, width in (("item", "Item", None), ("qty", "Qty", None), ("cost", "Points", None),
                                  ("state", "", widest)):
            table.add_column(title, key=key, width=width)
        for kind, ln in self.rows:
            cost = str(ln.points_cost) if kind == "p" else f"reward: {ln.offer}"
            table.add_row(Text(printable(ln.name)), str(ln.qty), Text(cost), "", key=f"{kind}{ln.line_id}")
        self._refresh()
        table.focus()

    def _refresh(self) -> None:
        table = self.query_one(DataTable)
        for kind, ln in self.rows:
            text = self.picks.points_state(ln) if kind == "p" else self.picks.reward_state(ln)
            table.update_cell(f"{kind}{ln.line_id}", "state", text)
        left = f"Points left: {self.points_left}"
        offers = sorted({r.offer for r in self.reward_rows})
        if offers:
            left += "   Rewards left: " + ", ".join(f"{o} {self.picks.rewards_left(o)}" for o in offers)
        self.query_one("#offer-left", Static).update(left)

    def action_toggle(self) -> None:  # type: ignore[override]  # the key's action, not DOMNode's
        if not self.rows:
            return
        kind, ln = self.rows[self.query_one(DataTable).cursor_row]
        if not (self.picks.toggle_reward(ln) if kind == "r" else self.picks.toggle_points(ln)):
            self.app.bell()
        self._refresh()

    def action_validate(self) -> None:
        self.run_db(lambda: self.sales.set_offers(self.note_id, self.picks.offered, self.picks.given),
                    lambda _: self.dismiss(True), name="offers")

    def say(self, text: str, *, error: bool = False) -> None:
        self.query_one("#offer-left", Static).update(text)

    def action_leave(self) -> None:
        self.dismiss(False)
