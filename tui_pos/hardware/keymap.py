"""Scanner keyboard layouts and the decoder that turns key events into codes.

A USB barcode scanner is a HID keyboard: a scan arrives as key presses, one
per character, ending with Enter. The decoder tracks Shift and CapsLock,
reads key-down events only, and maps key codes through the layout the scanner
is set to (`[scanner] layout`). Key codes are the kernel's (linux/input-event-codes.h),
written out here so that this module needs neither evdev nor a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

EV_KEY = 1
KEY_DOWN, KEY_UP, KEY_HOLD = 1, 0, 2

KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58

# The US layout: key code -> (plain, shifted).
_US_ROWS = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "^"),
    8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"), 12: ("-", "_"), 13: ("=", "+"),
    16: ("q", "Q"), 17: ("w", "W"), 18: ("e", "E"), 19: ("r", "R"), 20: ("t", "T"), 21: ("y", "Y"),
    22: ("u", "U"), 23: ("i", "I"), 24: ("o", "O"), 25: ("p", "P"), 26: ("[", "{"), 27: ("]", "}"),
    30: ("a", "A"), 31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"), 35: ("h", "H"),
    36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"),
    43: ("\\", "|"), 44: ("z", "Z"), 45: ("x", "X"), 46: ("c", "C"), 47: ("v", "V"), 48: ("b", "B"),
    49: ("n", "N"), 50: ("m", "M"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 57: (" ", " "),
}

# The French AZERTY layout: digits need Shift, A/Q, Z/W and M move.
_AZERTY_ROWS = {
    2: ("&", "1"), 3: ("é", "2"), 4: ('"', "3"), 5: ("'", "4"), 6: ("(", "5"), 7: ("-", "6"),
    8: ("è", "7"), 9: ("_", "8"), 10: ("ç", "9"), 11: ("à", "0"), 12: (")", "°"), 13: ("=", "+"),
    16: ("a", "A"), 17: ("z", "Z"), 18: ("e", "E"), 19: ("r", "R"), 20: ("t", "T"), 21: ("y", "Y"),
    22: ("u", "U"), 23: ("i", "I"), 24: ("o", "O"), 25: ("p", "P"), 26: ("^", "¨"), 27: ("$", "£"),
    30: ("q", "Q"), 31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"), 35: ("h", "H"),
    36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"), 39: ("m", "M"), 40: ("ù", "%"), 41: ("²", "²"),
    43: ("*", "µ"), 44: ("w", "W"), 45: ("x", "X"), 46: ("c", "C"), 47: ("v", "V"), 48: ("b", "B"),
    49: ("n", "N"), 50: (",", "?"), 51: (";", "."), 52: (":", "/"), 53: ("!", "§"), 57: (" ", " "),
}

# The keypad types the same on every layout (NumLock assumed on, as scanners send it).
_KEYPAD = {
    82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9",
    83: ".", 74: "-", 78: "+", 55: "*", 98: "/",
}

LAYOUTS: dict[str, dict[int, tuple[str, str]]] = {"us": _US_ROWS, "azerty": _AZERTY_ROWS, "fr": _AZERTY_ROWS}


class KeyEvent(Protocol):
    """What the decoder reads of an `evdev.InputEvent`."""

    type: int
    code: int
    value: int

    def timestamp(self) -> float: ...


@dataclass
class ScanDecoder:
    """Key events in, whole codes out (`feed` returns a code when Enter ends one).

    A scan whose keys stop arriving for `timeout` seconds without an Enter is
    dropped: the next key starts a new code.
    """

    layout: str = "us"
    timeout: float = 0.5
    _chars: list[str] = field(default_factory=list)
    _shift: set[int] = field(default_factory=set)
    _caps: bool = False
    _last: float | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown scanner layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}")
        self._map = LAYOUTS[self.layout]

    def reset(self) -> None:
        """Forget a scan in progress (the device went away mid-scan)."""
        self._chars.clear()
        self._shift.clear()
        self._last = None

    @property
    def pending(self) -> str:
        """What has been typed of the current scan so far."""
        return "".join(self._chars)

    def feed(self, event: KeyEvent) -> str | None:
        """Take one event; return the code when this event ends a scan."""
        if event.type != EV_KEY:
            return None
        code, value = event.code, event.value
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            if value == KEY_UP:
                self._shift.discard(code)
            else:
                self._shift.add(code)
            return None
        if value != KEY_DOWN:
            return None  # key-up and auto-repeat carry no new character
        now = event.timestamp()
        if self._last is not None and self._chars and now - self._last > self.timeout:
            self._chars.clear()  # a scan that never ended: drop it
        self._last = now
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            text = "".join(self._chars)
            self._chars.clear()
            return text or None
        if code in _KEYPAD:
            self._chars.append(_KEYPAD[code])
            return None
        pair = self._map.get(code)
        if pair is None:
            return None
        plain, shifted = pair
        shift = bool(self._shift)
        if self._caps and plain.isalpha():
            shift = not shift
        self._chars.append(shifted if shift else plain)
        return None
