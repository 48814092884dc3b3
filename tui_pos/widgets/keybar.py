"""The key bar: the screen's keys at the bottom, on as many rows as the width needs.

Textual's Footer is one row that scrolls sideways: at 80 columns the sale
screen's last keys (F10 Pay among them) fell off the edge. This bar shows
every binding with `show=True`, in the screen's order (so the key that
finishes the task comes first), and wraps whole keys onto a second row
instead of cutting them. It reads the screen's active bindings, and repaints
when they change, the way Footer does.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.widget import Widget

GAP = 2   # spaces between two keys


def key_label(display: str) -> str:
    """`f10` -> `F10`, `^o` -> `^O`: what is printed on the keyboard."""
    if re.fullmatch(r"f\d{1,2}", display):
        return display.upper()
    if display.startswith("^") and len(display) == 2:
        return display.upper()
    return display


def rows(items: list[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    """Greedy placement of (key, label) items on rows of `width` cells; an item is never split."""
    out: list[list[tuple[str, str]]] = [[]]
    used = 0
    for key, label in items:
        size = len(key) + (1 + len(label) if label else 0)
        need = size if not out[-1] else used + GAP + size
        if out[-1] and need > width:
            out.append([])
            used = size
        else:
            used = need
        out[-1].append((key, label))
    return out if out[0] else []


class HelpLine(Widget, can_focus=False):
    """A dialog's help ("Enter: pay  Escape: back"): wrapped between its items, never inside one.

    Items are separated by two spaces or a line break in the text; a plain Label wrapped "Ctrl+R off the
    note" as "Ctrl+R off the" and "note" at 80 columns.
    """

    DEFAULT_CSS = """
    HelpLine {
        height: auto;
        width: 100%;
    }
    """

    def __init__(self, text: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = text

    def update(self, text: str) -> None:
        self.text = text
        self.refresh(layout=True)

    def _rows(self, width: int) -> list[list[tuple[str, str]]]:
        items = [(part.strip(), "") for part in re.split(r" {2,}|\n", self.text) if part.strip()]
        return rows(items, max(1, width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._rows(width)))

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        return Text("\n".join((" " * GAP).join(k for k, _ in row) for row in self._rows(width)),
                    no_wrap=True, overflow="crop")


class KeyBar(Widget, can_focus=False):
    """The keys of the current screen, wrapped onto two rows when one is not enough."""

    COMPONENT_CLASSES = {"keybar--key"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 3;
        background: $footer-background;
        color: $footer-description-foreground;
        padding: 0 1;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    """

    def _items(self) -> list[tuple[str, str]]:
        seen: set[str] = set()
        items = []
        for active in self.screen.active_bindings.values():
            binding: Binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            items.append((key_label(self.app.get_key_display(binding)), binding.description))
        return items

    def _rows(self, width: int) -> list[list[tuple[str, str]]]:
        return rows(self._items(), max(1, width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._rows(width)))

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        key_style = self.get_component_rich_style("keybar--key")
        for n, row in enumerate(self._rows(self.content_region.width or self.size.width)):
            if n:
                text.append("\n")
            for i, (key, label) in enumerate(row):
                if i:
                    text.append(" " * GAP)
                text.append(key, style=key_style)
                text.append(" " + label)
        return text

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)
        self.app.screen_change_signal.unsubscribe(self)

    def _screen_changed(self, top) -> None:
        """Under a dialog, this screen's keys are not the ones that work: the bar steps aside (the
        dialog says its own keys), so F10 never reads "Pay" while it means "Refund"."""
        if self.is_attached:
            self.visible = top is self.screen

    def _bindings_changed(self, _screen) -> None:
        if self.is_attached:
            self.refresh(layout=True)
