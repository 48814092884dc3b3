"""The note's lines: a fixed-size window painted line by line.

A scan repaints only the rows it changes (the new row and the cursor), never
the whole table, so its cost does not grow with the note. When the new row
falls below the window the window flips forward, keeping the last few rows in
view, instead of scrolling one row at a time (which repaints every row).
"""

from __future__ import annotations

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from tui_pos.domain.text import printable

# (title, least width, right-aligned). A figure column is as wide as its widest cell (a price or a total is
# never cut); the item's name takes the room the figures leave, so at 80 columns a 26-letter name fits.
COLUMNS = (("Item", 0, False), ("Qty", 3, True), ("Price", 6, True), ("Disc", 7, True), ("Total", 6, True))
KEEP_ON_FLIP = 3  # rows of context kept at the top after a page flip


class NoteLines(Widget):
    """Rows of cells keyed by line id, with a cursor."""

    DEFAULT_CSS = """
    NoteLines { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: list[str] = []
        self.cells: dict[str, tuple[str, ...]] = {}
        self.cursor = -1
        self.top = 0
        self._header_style = Style(bold=True, underline=True)
        self._widths = self._fit({})
        self._cursor_style = Style(reverse=True)

    # ---------------------------------------------------------------- API

    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def clear(self) -> None:
        self.keys, self.cells, self.cursor, self.top = [], {}, -1, 0
        self._widths = self._fit({})
        self.refresh()

    def set_rows(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        """Replace everything (a note loaded or resumed); the cursor goes to the last row."""
        self.keys = [k for k, _ in rows]
        self.cells = dict(rows)
        self._widths = self._fit(self.cells)
        self.cursor = len(self.keys) - 1
        self.top = self._top_for(self.cursor, flip=True)
        self.refresh()

    def upsert(self, key: str, cells: tuple[str, ...]) -> None:
        """Add a row, or change one; the cursor moves to it."""
        wider = [max(w, len(text)) for w, text in zip(self._widths, cells)]
        if wider != self._widths:
            self._widths = wider
            self.refresh()
        if key in self.cells:
            self.cells[key] = cells
            self._move(self.keys.index(key), changed=self.keys.index(key))
        else:
            self.keys.append(key)
            self.cells[key] = cells
            self._move(len(self.keys) - 1, changed=len(self.keys) - 1)

    def remove(self, key: str) -> None:  # type: ignore[override]  # a row by key, not the widget
        if key not in self.cells:
            return
        del self.cells[key]
        self.keys.remove(key)
        self._widths = self._fit(self.cells)
        self.cursor = min(self.cursor, len(self.keys) - 1)
        self.top = self._top_for(self.cursor, flip=True) if self.cursor >= 0 else 0
        self.refresh()

    def move_cursor(self, step: int) -> None:
        if self.keys:
            self._move(max(0, min(len(self.keys) - 1, self.cursor + step)))

    # ---------------------------------------------------------------- painting

    @property
    def _window(self) -> int:
        return max(1, self.size.height - 1)  # one row for the header

    def _top_for(self, index: int, flip: bool) -> int:
        if index < 0 or len(self.keys) <= self._window:
            return 0     # every row fits: none is scrolled off (a repaint after attaching hid line 1)
        if self.top <= index < self.top + self._window and not flip:
            return self.top
        if index < self.top:
            return index
        return max(0, index - max(0, min(KEEP_ON_FLIP, self._window - 1)))

    def _move(self, index: int, changed: int | None = None) -> None:
        old = self.cursor
        self.cursor = index
        top = self._top_for(index, flip=False)
        if top != self.top:
            self.top = top
            self.refresh()
            return
        for row in {old, index, changed} - {None, -1}:
            self._refresh_row(row)  # type: ignore[arg-type]  # None was taken out above

    def _refresh_row(self, index: int) -> None:
        y = index - self.top + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    @staticmethod
    def _fit(cells: dict[str, tuple[str, ...]]) -> list[int]:
        """Each figure column's width: its least, its title, or its widest cell."""
        widths = [max(least, len(title)) for title, least, _ in COLUMNS]
        for row in cells.values():
            widths = [max(w, len(text)) for w, text in zip(widths, row)]
        return widths

    def _layout(self, width: int) -> list[int]:
        figures = self._widths[1:]
        fixed = sum(figures) + len(COLUMNS)  # one space before each column
        return [max(6, width - fixed)] + figures

    def _strip(self, cells: tuple[str, ...], width: int, style: Style | None) -> Strip:
        parts = []
        for (_, _, right), w, text in zip(COLUMNS, self._layout(width), cells):
            text = printable(text)              # a name from data is text, never terminal codes
            text = text if len(text) <= w else text[: w - 1] + "~"
            parts.append(" " + (text.rjust(w) if right else set_cell_size(text, w)))
        line = set_cell_size("".join(parts), width)
        return Strip([Segment(line, style)], width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._strip(tuple(t for t, _, _ in COLUMNS), width, self._header_style)
        index = self.top + y - 1
        if 0 <= index < len(self.keys):
            style = self._cursor_style if index == self.cursor else None
            return self._strip(self.cells[self.keys[index]], width, style)
        return Strip.blank(width)

    def on_resize(self) -> None:
        self.top = self._top_for(self.cursor, flip=False)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height
