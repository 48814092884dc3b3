"""A progress bar for long commands (issue 23): rich's, which Textual already brings; quiet when not a TTY.

Services never print: a long service call takes `progress: Progress | None` and calls `progress(done, total,
what)` now and then (cheap: it only draws when the terminal is a TTY and a tenth of a second has passed).
A command makes one with `bar()`:

    with bar("Importing customers") as progress:
        customers.import_customers(path, region=..., progress=progress)

The bar appears only once the work has run for a second (a quick command prints nothing more than before),
goes to standard error (standard output stays what scripts read), and is absent when standard error is
not a terminal (CI, cron, a pipe).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Progress = Callable[[int, int, str], None]
"""progress(done, total, what): `total` 0 when unknown."""

SHOW_AFTER = 1.0      # seconds: a command quicker than this shows no bar
EVERY = 0.1           # seconds between two redraws


def silent(done: int, total: int, what: str = "") -> None:
    """A Progress that says nothing (the default of every service)."""


@contextmanager
def bar(title: str, *, stream: Any = None, force: bool = False) -> Iterator[Progress]:
    """A Progress drawing rich's bar on `stream` (standard error) when it is a TTY (or `force`)."""
    stream = stream if stream is not None else sys.stderr
    if not (force or (hasattr(stream, "isatty") and stream.isatty())):
        yield silent
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress
    started = time.monotonic()
    state: dict[str, Any] = {"shown": None, "task": None, "at": 0.0}
    console = Console(file=stream, force_terminal=force or None)

    def progress(done: int, total: int, what: str = "") -> None:
        now = time.monotonic()
        if now - started < SHOW_AFTER or now - state["at"] < EVERY and done < total:
            return
        state["at"] = now
        if state["shown"] is None:
            shown = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
            shown.start()
            state["shown"], state["task"] = shown, shown.add_task(title, total=total or None)
        state["shown"].update(state["task"], completed=done, total=total or None,
                              description=f"{title}: {what}" if what else title)

    try:
        yield progress
    finally:
        if state["shown"] is not None:
            state["shown"].stop()


__all__ = ["Progress", "bar", "silent"]
