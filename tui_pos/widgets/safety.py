"""The register's safety net: a bug in a handler never freezes the register or shows a traceback.

Textual stops a message loop at the first exception in a handler and hands it
to `App._handle_exception`, which by default exits the app. On a register
that would freeze the screen (or close it) in front of the cashier. `Guarded`
catches the exception around each message instead: it is logged with its
traceback, the cashier sees one short line, and the loop goes on. Every
change is saved by the service that made it, so nothing is lost. Headless
runs (tests) keep Textual's behaviour so that a bug fails the test that hit it.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError

log = logging.getLogger("tui_pos.app")

SHORT = "Something went wrong and was logged; the note is saved. Carry on, or call support."


def report_bug(app, error: BaseException) -> None:
    log.error("unexpected error", exc_info=error)
    try:
        app.notify(SHORT, severity="error", timeout=10)
    except Exception:  # the net must not tear itself
        log.exception("could not show the error notice")


class Guarded:
    """Mixin for our App and Screen classes: exceptions in handlers are reported, not fatal."""

    async def _dispatch_message(self, message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except CancelledError:
            raise
        except Exception as error:
            app = self.app  # type: ignore[attr-defined]
            from tui_pos.services.connection import is_connection_error
            if is_connection_error(error) and hasattr(app, "database_lost"):
                app.database_lost()
                return
            from tui_pos.domain.errors import PosError
            if isinstance(error, PosError):
                # a refusal worded for the cashier that a handler let through (a PIN prompt that is locked,
                # say): say it, it is not a bug
                app.notify(str(error), severity="error", timeout=8)
                return
            if app.is_headless:
                raise
            report_bug(app, error)
