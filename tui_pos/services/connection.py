"""The database connection as the screens see it: a connection per worker thread, and what a lost one means.

Screens and widgets never import `tui_pos.models` (an import contract in
`make test`); what they need of the connection is here.
"""

from __future__ import annotations

from tui_pos.models.db import explain, is_connection_error, is_sqlite, reset_connection, worker_connection

__all__ = ["explain", "is_connection_error", "is_sqlite", "reset_connection", "worker_connection"]
