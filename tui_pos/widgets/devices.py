"""The register's devices on screen: the `Scanned` message and the status line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import Static


class ScanTooLong(Message):
    """A scanner (or a stuck key) sent more than any code holds; it was dropped. The screen says so."""

    def __init__(self, source: str, limit: int, dropped: int = 0) -> None:
        super().__init__()
        self.source = source
        self.limit = limit
        self.dropped = dropped      # 0: it has just begun; N: it is over, N keys were dropped


class Scanned(Message):
    """A whole code from a scanner (an evdev device or a keyboard-wedge burst).

    The app posts it to the active screen, which decides what the code means
    (a product, a customer card, a receipt number, text for a search field).
    A screen that does not handle it lets it bubble to the app, which types
    the code into the focused field and presses Enter.
    """

    def __init__(self, code: str, source: str) -> None:
        super().__init__()
        self.code = code
        self.source = source   # the device name, or "keyboard" for a wedge burst


class DatabaseBack(Message):
    """The database answers again after a lost connection: screens retry what they kept."""


class WentOffline(Message):
    """The server is away and the register now sells on its replica: screens carry on there."""


@dataclass(frozen=True)
class DeviceLine:
    """What the status line says of the printer and the scanners."""

    printer: str = ""         # "" when no printer is configured
    printer_bad: bool = False
    scanner: str = ""         # "" when no evdev scanner is configured
    scanner_bad: bool = False
    database_down: bool = False
    offline_pending: int | None = None   # selling offline: the sales waiting to be sent (None: online)

    def markup(self) -> str:
        parts = ["[b $error]DATABASE UNREACHABLE[/]"] if self.database_down else []
        if self.offline_pending is not None:
            n = self.offline_pending
            parts.append(f"[b $warning]OFFLINE: {n} sale{'' if n == 1 else 's'} to send[/]")
        if self.printer:
            parts.append(f"[b $error]{self.printer}[/]" if self.printer_bad else self.printer)
        if self.scanner:
            parts.append(f"[b $error]{self.scanner}[/]" if self.scanner_bad else self.scanner)
        return " · ".join(parts)


class DeviceStatus(Static):
    """Printer and scanner state, kept current by the app."""

    DEFAULT_CSS = """
    DeviceStatus {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $primary;
        color: $text;
    }
    """

    def on_mount(self) -> None:
        self.show(self.app.device_line() if hasattr(self.app, "device_line") else DeviceLine())


    _shown: str | None = None

    def show(self, line: DeviceLine) -> None:
        text = line.markup()
        if text != self._shown:  # a repaint only when the words change
            self._shown = text
            self.update(text)
            self.display = bool(text)
