"""Ringing up a note: `SaleService`, the register's note workflow, made of its parts.

Every method is one transaction and returns plain data; a change is on disk
before the method returns, so the screen never shows what is not saved.
The parts live in `services.sale` (editing, customer pricing, points,
payment and close, receipts) and speak to the notes store
(`services.store.notes`); this module joins them and names what the screens
import.
"""

from __future__ import annotations

from tui_pos.services.sale.carry import Carrying
from tui_pos.services.sale.editing import NoteEditing
from tui_pos.services.sale.payment import Payments
from tui_pos.services.sale.points import NotePoints
from tui_pos.services.sale.receipts import Receipts
from tui_pos.services.sale.views import (
    LastSale,
    LineView,
    NoteView,
    ParkedNote,
    PayResult,
    ScanResult,
    Summary,
    UnknownCode,
)


class SaleService(NoteEditing, NotePoints, Payments, Receipts, Carrying):
    """The register's note workflow, bound to one register (see the parts for each method)."""


__all__ = ["LastSale", "LineView", "NoteView", "ParkedNote", "PayResult", "SaleService", "ScanResult", "Summary",
           "UnknownCode"]
