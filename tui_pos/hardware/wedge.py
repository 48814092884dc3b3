"""Keyboard-wedge scanners: tell a scan from typing by its speed.

A scanner left as a keyboard (or any scanner over SSH) types a whole code in
a few milliseconds and ends it with Enter; a person types a key every 80 ms
or more. `WedgeFilter` holds printable keys that arrive in a burst (each within
`gap` seconds of the one before) instead of letting them reach the focused
field. When Enter ends a burst of at least `min_length` characters, the burst
is a scan: the app gets the whole code as one message and no field sees a
key of it. Anything else (a pause, a short burst, another key) releases the
held keys, in order, exactly as they were typed.

Pure: items are opaque (the app's key events), times are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What to do after a key: deliver `release` in order, then handle `scan` if set."""

    release: list[T] = field(default_factory=list)
    scan: str | None = None
    too_long: bool = False      # a burst just went past `max_length`: the rest of it is dropped
    dropped: int = 0            # a runaway burst just ended: how many keys it dropped


@dataclass
class WedgeFilter(Generic[T]):
    """Holds a burst of keys until it is known to be a scan or typing."""

    gap: float = 0.03
    min_length: int = 4
    max_length: int = 64        # no code is longer: a burst past it is a stuck key or a scanner in the wrong mode
    quiet: float = 0.3          # a runaway burst ends only after this long without a key (Enters included)
    _held: list[tuple[T, str]] = field(default_factory=list)
    _last: float = 0.0
    _dropping: bool = False     # inside a burst found too long: its keys go nowhere until it ends
    _dropped: int = 0

    @property
    def holding(self) -> bool:
        return bool(self._held) or self._dropping

    def _take(self) -> list[T]:
        items = [item for item, _ in self._held]
        self._held.clear()
        return items

    def char(self, item: T, char: str, t: float) -> Outcome[T]:
        """A printable key: held while it may be part of a scan; dropped inside a burst found too long."""
        ended = 0
        if self._dropping:
            if t - self._last < self.quiet:
                self._last = t
                self._dropped += 1
                return Outcome()
            ended = self._end()          # a quiet moment: the runaway ended; this key starts afresh
        release = self._take() if self._held and t - self._last > self.gap else []
        self._held.append((item, char))
        self._last = t
        if len(self._held) > self.max_length:
            self._dropped = len(self._held)
            self._held.clear()           # held, never delivered: nothing of it reaches a field or a lookup
            self._dropping = True
            return Outcome(release, too_long=True, dropped=ended)
        return Outcome(release, dropped=ended)

    def _end(self) -> int:
        dropped, self._dropped, self._dropping = self._dropped, 0, False
        return dropped

    def enter(self, item: T, t: float) -> Outcome[T]:
        """Enter: ends a scan when a long enough burst is held (and ends a runaway burst, swallowed)."""
        ended = 0
        if self._dropping:
            if t - self._last < self.quiet:   # a stuck scanner sends Enters too: still the runaway
                self._last = t
                self._dropped += 1
                return Outcome()
            ended = self._end()
        if self._held and t - self._last <= self.gap and len(self._held) >= self.min_length:
            code = "".join(c for _, c in self._held)
            self._held.clear()
            return Outcome([], code, dropped=ended)
        return Outcome(self._take() + [item], dropped=ended)

    def other(self, item: T) -> Outcome[T]:
        """Any other key (F-keys, arrows, Ctrl+...): what was held goes first."""
        return Outcome(self._take() + [item])

    def tick(self, t: float) -> Outcome[T]:
        """Time passed: a burst that stopped without Enter was typing (or a runaway that stopped)."""
        ended = self._end() if self._dropping and t - self._last >= self.quiet else 0
        if self._held and t - self._last >= self.gap:
            return Outcome(self._take(), dropped=ended)
        return Outcome(dropped=ended)
