"""The database connection as the screens see it: a connection per worker thread, and what a lost one means.

Screens and widgets never import `tui_pos.models` (an import contract in
`make test`); what they need of the connection is here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tui_pos.models.db import db, explain, is_connection_error, is_sqlite, reset_connection, worker_connection

__all__ = ["explain", "is_connection_error", "is_sqlite", "pinned", "reset_connection", "worker_connection"]


def pinned() -> AbstractContextManager[None]:
    """The calling thread keeps its database (the server or the replica) until the block ends."""
    return db.pinned()
