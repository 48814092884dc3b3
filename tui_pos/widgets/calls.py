"""Database calls made for a screen: in a thread worker, one at a time and in order, with one error handler.

A screen mixes in `DatabaseCalls` and writes `self.run_db(call, done)`: `call` runs in a Textual thread
worker (`exit_on_error=False`, group "db"), never on the UI loop; `done(result)` runs back on the UI loop.
Calls run one after another in the order they were asked for (a queue, one worker at a time), so a fast
"ESP", Enter, F2 keeps the Espresso, and what a later key does sees the note the earlier ones left.

Failures are handled in one place, `on_worker_state_changed` (the way harlequin handles its adapter
calls): a `NeedsManager` goes to the one PIN gate and the call is made again with the approver; a
`PosError` is said as it is; a lost connection tells the app (`app.database_lost()`) and the screen says
its "nothing was lost" words; anything else is logged and said in one short line. A call may also pass
`failed(error)` for what it keeps (a scan keeps its code while the database is away).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.worker import Worker, WorkerState

from tui_pos.domain.errors import NeedsManager, PosError
from tui_pos.services.connection import is_connection_error, is_sqlite, pinned, reset_connection, worker_connection

log = logging.getLogger(__name__)

SHORT = "Something went wrong; it was logged. The note is saved: carry on or call support."
LOST = "The database cannot be reached: nothing was lost."

_epoch = [0]                   # bumped when the database is lost: each worker thread then drops its connection
_local = threading.local()


def database_lost_everywhere() -> None:
    """Every worker thread's connection is suspect now: each drops its own before its next call."""
    _epoch[0] += 1


def in_worker(call: Callable[[], Any]) -> Any:
    """Run `call` in a worker thread on a connection of that thread.

    On SQLite the thread keeps its connection for the next call (a file cannot be "lost", and opening one
    costs about a millisecond of pragmas: the scanner's budget). On a server the call opens a connection
    and closes it (`worker_connection`), as every other worker does: the pool's threads never hold one
    that broke while the server was away (the app's probe and the print queue reuse those threads).
    """
    with pinned():               # a call ends on the database it began on, if the register switches meanwhile
        if not is_sqlite():
            with worker_connection():
                return call()
        if getattr(_local, "epoch", _epoch[0]) != _epoch[0]:
            reset_connection()   # opened before the database was lost: the next query opens a fresh one
        _local.epoch = _epoch[0]
        try:
            return call()
        except Exception as exc:
            if is_connection_error(exc):
                reset_connection()
            raise


@dataclass
class Call:
    """One database call asked for by a screen."""

    call: Callable[[], Any]
    """Runs in the worker thread."""
    done: Callable[[Any], object] | None = None
    """Runs on the UI loop with the result."""
    failed: Callable[[BaseException], None] | None = None
    """Runs on the UI loop after the error handler (what the call keeps, or undoes)."""
    approve: Callable[[int | None], Any] | None = None
    """The call again with an approver's id, when it needs a manager (None: NeedsManager is an error)."""
    name: str = "db"
    """The worker's name (for the log and tests)."""


class DatabaseCalls:
    """Mixin for screens (before `Screen` in the bases): `run_db` and the one handler of its failures.

    The screen provides `say(text, error=...)`, `lost_words()` (what it says when the database is lost)
    and `user` (who is signed in; None without users).
    """

    db_busy: bool = False
    """A call of this screen is running in its worker."""
    manager_cancelled: str = "Cancelled: no manager approval."
    """Said when the PIN prompt a NeedsManager opened is left empty."""
    manager_refused: str = "Nothing was changed."
    """Said after `users.refusal` when the PIN may not approve."""
    manager_refusal: str | None = None
    """Said instead of both when set (the payment: "No approval: the payment was not taken.")."""

    def db_queue(self) -> deque[Call]:
        queue: deque[Call] | None = getattr(self, "_pos_db_queue", None)
        if queue is None:
            queue = deque()
            self._pos_db_queue: deque[Call] = queue
        return queue

    def db_asked(self, name: str) -> bool:
        """A call of this name is running or waiting its turn (a payment asked twice is taken once).

        Not `db_busy`: a key pressed while the screen's own figures are still being read must be queued,
        not dropped (Enter on a payment screen that has just opened pays)."""
        return any(job.name == name for job in self.db_queue())

    def run_db(self, call: Callable[[], Any], done: Callable[[Any], object] | None = None, *,
               failed: Callable[[BaseException], None] | None = None, name: str = "db") -> None:
        """Run `call` in the worker after the calls asked before it; `done(result)` on the UI loop."""
        self.db_queue().append(Call(call, done, failed, name=name))
        self._pos_db_next()

    def with_manager(self, call: Callable[[int | None], Any], done: Callable[[Any], object], *,
                     failed: Callable[[BaseException], None] | None = None, name: str = "db") -> None:
        """`call(None)`; when the service says a manager must approve, the gate asks, then `call(approver)`."""
        self.db_queue().append(Call(lambda: call(None), done, failed, approve=call, name=name))
        self._pos_db_next()

    def _pos_db_next(self) -> None:
        if self.db_busy or not self.db_queue():
            return
        job = self.db_queue()[0]
        self.db_busy = True
        self.run_worker(lambda: in_worker(job.call), thread=True, exit_on_error=False,  # type: ignore[attr-defined]
                        group="db", name=job.name)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one handler of this screen's database calls: the result, or what its failure means."""
        if event.worker.group != "db" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                             WorkerState.CANCELLED):
            return
        queue = self.db_queue()
        job = queue.popleft() if queue else None
        self.db_busy = False
        try:
            if job is None or event.state == WorkerState.CANCELLED:
                return
            if event.state == WorkerState.SUCCESS:
                if job.done is not None:
                    job.done(event.worker.result)
                return
            error = event.worker.error
            assert error is not None
            self.db_failed(error, job)
        finally:
            self._pos_db_next()

    def db_failed(self, error: BaseException, job: Call) -> None:
        """What a failed call means to the cashier; then the call's own `failed`."""
        if isinstance(error, NeedsManager) and job.approve is not None:
            self.ask_manager(error, job)
            return
        if isinstance(error, PosError):
            self.say(str(error), error=True)   # type: ignore[attr-defined]
        elif is_connection_error(error):
            database_lost_everywhere()
            self.app.database_lost()  # type: ignore[attr-defined]
            self.say(self.lost_words(), error=True)   # type: ignore[attr-defined]
        else:
            log.error("unexpected error in %s", job.name, exc_info=error)
            self.say(SHORT, error=True)   # type: ignore[attr-defined]
        if job.failed is not None:
            job.failed(error)

    def ask_manager(self, need: NeedsManager, job: Call) -> None:
        """The one PIN gate; the call again with the approver, or nothing changed."""
        from tui_pos.screens.gate import ask_approval
        approve = job.approve
        assert approve is not None

        def approved(person: Any) -> None:
            again = Call(lambda: approve(person.id if person else None), job.done, job.failed, name=job.name)
            self.db_queue().append(again)
            self._pos_db_next()
        ask_approval(self, need, approved,  # type: ignore[arg-type]
                     say=lambda text, error: self.say(text, error=error),  # type: ignore[attr-defined]
                     cancelled=self.manager_cancelled, refused=self.manager_refused, refusal=self.manager_refusal)

    def lost_words(self) -> str:
        """What this screen says when the database is lost (screens say more)."""
        return LOST
