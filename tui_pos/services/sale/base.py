"""What every part of a sale shares: the register's settings and row, the note checked, its totals and view."""

from __future__ import annotations

from typing import Any

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError, PosError
from tui_pos.models import NoteLine, PointOfSale, Register, db
from tui_pos.services import customers, users
from tui_pos.services.sale.views import LineView, NoteView, Summary, line_view, note_view
from tui_pos.services.store import notes
from tui_pos.services.store.notes import NoteRecord


class SaleBase:
    """The register's settings and the reads every step of a sale makes."""

    def __init__(self, register_code: str, *, point_of_sale: str = "main", store_name: str = "",
                 default_mode: str = "counter", sales_modes: list[str] | None = None,
                 max_discount_bp: int = 1000, tenders: list[str] | None = None,
                 header: list[str] | None = None, footer: list[str] | None = None,
                 stack_discounts: bool = False, block_defaulters: bool = False,
                 loyalty_block: str = "used", weighed_prefixes: list[str] | None = None,
                 weighed_layout: str = "PPIIIIIVVVVVC", weighed_value: str = "price",
                 print_queue: bool = False, messaging: Any = None, rate_and_special: str = "best",
                 fiscal: Any = None, offline: Any = None) -> None:
        self.register_code = register_code
        self.rate_and_special = rate_and_special
        self.point_of_sale = point_of_sale
        self.store_name = store_name or point_of_sale
        self.default_mode = default_mode
        self.sales_modes = sales_modes or [default_mode]
        self.max_discount_bp = max_discount_bp
        self.tenders = tenders or ["cash", "card"]
        self.header = tuple(header or ())
        self.footer = tuple(footer or ())
        self.stack_discounts = stack_discounts
        self.block_defaulters = block_defaulters
        self.loyalty_block = loyalty_block
        self.weighed_prefixes = list(weighed_prefixes or [])
        self.weighed_layout = weighed_layout
        self.weighed_value = weighed_value
        self.print_queue = print_queue   # completing a note queues its receipt in the same transaction
        self.messaging = messaging       # services.messaging.Settings: triggers write outbox rows in the sale
        self.fiscal = fiscal             # services.fiscal.Settings: each completion writes its DGI document row
        self.offline = offline           # services.offline.Offline on a PostgreSQL register (None: no replica)
        self._register_id: int | None = None
        self._store_id: int | None = None

    @property
    def register_id(self) -> int:
        """This register's row, created with its point of sale on first use."""
        if self._register_id is None:
            # registers starting together on a new store: the first insert wins, the others find its row
            # (no failed INSERT, so no error in the server's log and no savepoint to roll back)
            with db.atomic():
                pos = PointOfSale.get_or_none(PointOfSale.code == self.point_of_sale)
                if pos is None:
                    PointOfSale.insert(code=self.point_of_sale, name=self.store_name).on_conflict_ignore().execute()
                    pos = PointOfSale.get(PointOfSale.code == self.point_of_sale)
                reg = Register.get_or_none(Register.code == self.register_code)
                if reg is None:
                    Register.insert(code=self.register_code, point_of_sale=pos.id).on_conflict_ignore().execute()
                    reg = Register.get(Register.code == self.register_code)
                self._register_id = int(reg.id)
                self._store_id = int(reg.point_of_sale_id)
        return self._register_id

    @property
    def store_id(self) -> int:
        """This register's store (its point of sale's row): whose prices it sells at."""
        if self._store_id is None:
            _ = self.register_id
            if self._store_id is None:
                self._store_id = int(Register.get_by_id(self._register_id).point_of_sale_id)
        return self._store_id

    @property
    def selling_offline(self) -> bool:
        """Selling on the register's replica now (the server is away)."""
        return self.offline is not None and self.offline.active

    def _note(self, note_id: int, *, editable: bool = True) -> NoteRecord:
        return self._checked(notes.note(note_id), editable=editable)

    def _checked(self, note: NoteRecord | None, *, editable: bool = True) -> NoteRecord:
        """The note, if it is this register's (and open, when `editable`)."""
        if note is None or note.register_id != self.register_id:
            raise PosError("That note is not on this register.")
        if editable and note.status != "open":
            raise PosError(f"This note is {note.status}; open a new one to go on selling.")
        return note

    def _line(self, note_id: int, line_id: int) -> Any:
        """The note's line as a NoteLine (InputError when none is picked)."""
        line = NoteLine.get_or_none(NoteLine.id == line_id, NoteLine.note == note_id)
        if line is None:
            raise InputError("Pick a line first (Up/Down).")
        return line

    def _paid(self, note_id: int) -> int:
        return notes.paid(note_id)

    def _approver(self, approver_id: int | None, action: str, message: str | None = None, *,
                  user_id: int | None = None) -> int | None:
        """Who approves `action` (the `[permissions]` table); NeedsManager when somebody must."""
        return users.approve(action, approver_id, message, user_id=user_id)

    def summary(self, note_id: int, note: NoteRecord | None = None) -> Summary:
        """Totals of a note: plain lines summed by the database, the rest priced here.

        `note`: the note as the caller read it in this transaction (its money off and payments)."""
        priced, groups = notes.totals_parts(note_id)
        if note is None:
            note = notes.note(note_id)
            if note is None:
                raise PosError("That note is not on this register.")
        return Summary(note_id, pricing.note_totals(priced, groups, note.redeem_cents or 0), note.paid_now)

    def view(self, note_id: int, *, note: NoteRecord | None = None) -> NoteView:
        """The note as the screen shows it (`note`: the row already read and updated in this transaction)."""
        if note is None:
            note = self._note(note_id, editable=False)
        return note_view(note, notes.lines(note.id), notes.payments(note.id) if note.payments_now else [],
                         customers.view(note.customer_id) if note.customer_id else None)

    def line_view(self, line_id: int) -> LineView:
        line = notes.line(line_id)
        if line is None:
            raise InputError("Pick a line first (Up/Down).")
        return line_view(line)
