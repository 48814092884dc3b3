"""The one manager-PIN gate: every screen asks for an approving PIN through `ask_approval`.

Given an action (a key of `domain/permissions.py`) or the `NeedsManager` a service raised, it lets the
signed-in user through when they may, else asks for the PIN of someone who may (the title, prompt and
placeholder from `users`), refuses a PIN that may not with `users.refusal`, shows a lockout
(`PinLocked`) on the screen's message line, and runs the continuation with the approver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from textual.screen import Screen

from tui_pos.domain.errors import NeedsManager
from tui_pos.screens.dialogs import PromptDialog
from tui_pos.services import users
from tui_pos.services.connection import is_connection_error
from tui_pos.widgets.calls import LOST, SHORT, in_worker

log = logging.getLogger(__name__)

Say = Callable[[str, bool], None]
"""How the asking screen shows a line: `say(text, error)`."""


def ask_approval(screen: Screen, need: str | NeedsManager, then: Callable[[users.Person | None], None], *,
                 say: Say, user: users.Person | None = None, title: str | None = None,
                 cancelled: str | None = None, refused: str = "", refusal: str | None = None,
                 ask_first: bool = False,
                 always_ask: bool = False) -> None:
    """Run `then(approver)` once someone who may do the action has approved it.

    `need`: an action key, or the NeedsManager a service raised (its message is the prompt). Without
    `ask_first`, a signed-in `user` who may do the action goes through without a PIN (a NeedsManager is
    always asked: the service already said no); `always_ask` asks even them when the action needs an
    approval (the drawer: every opening has a named hand). Nobody to ask on a register with no users:
    `then(None)`. `cancelled`: said when the prompt is left empty or escaped (None: nothing said);
    `refused`: added after `users.refusal` ("Nothing was changed."); `refusal`: said instead of both.
    """
    if isinstance(need, NeedsManager):
        action, prompt, heading = need.action, str(need), users.approval_title(need.action)
        asked_already = True
    else:
        action, prompt, heading = need, users.permissions().prompt(need), title or users.approval_title(need)
        asked_already = ask_first
    def checked(outcome: users.Person | BaseException | None) -> None:
        if isinstance(outcome, users.PinLocked):   # every prompt of this register waits: said as it is
            say(str(outcome), True)
            return
        if isinstance(outcome, BaseException):
            if is_connection_error(outcome):
                screen.app.database_lost()  # type: ignore[attr-defined]
                say(f"{LOST} Nothing was changed; ask again when it is back.", True)
            else:
                log.error("PIN check failed", exc_info=outcome)
                say(SHORT, True)
            return
        if outcome is None and refusal is not None:
            say(refusal, True)
            return
        if outcome is None:
            say(users.refusal(action, prompt if isinstance(need, NeedsManager) else None)
                + (f" {refused}" if refused else ""), True)
            return
        then(outcome)

    def answered(pin: str | None) -> None:
        if not pin:
            if cancelled is not None:
                say(cancelled, False)
            return

        def check() -> None:
            """In a thread worker: the PIN check is a scrypt per user and a query, never on the UI loop."""
            outcome: users.Person | BaseException | None
            try:
                outcome = in_worker(lambda: users.approver_for(pin, action))
            except Exception as exc:  # noqa: BLE001 - handed to `checked`, on the UI loop
                outcome = exc
            screen.app.call_from_thread(checked, outcome)
        screen.run_worker(check, thread=True, exit_on_error=False, group="pin", name="pin-check")

    def prompt_for_pin() -> None:
        screen.app.push_screen(PromptDialog(heading, prompt, password=True, placeholder=users.pin_words(action)),
                               answered)

    def counted(any_users: bool | BaseException) -> None:
        if isinstance(any_users, BaseException):
            checked(any_users)
        elif not any_users:
            then(None)
        elif users.may(user, action) and not (always_ask and users.permissions().needs_approval(action)):
            then(user)
        else:
            prompt_for_pin()

    if asked_already:
        prompt_for_pin()
        return
    if user is not None:   # someone signed in: the register has users, nothing to ask the database
        counted(True)     # (the prompt opens at once: a PIN typed right after the key goes to it)
        return

    def count() -> None:
        """In a thread worker: whether the register has users at all is a query, never on the UI loop."""
        outcome: bool | BaseException
        try:
            outcome = bool(in_worker(users.users_exist))
        except Exception as exc:  # noqa: BLE001 - handed to `counted`, on the UI loop
            outcome = exc
        screen.app.call_from_thread(counted, outcome)
    screen.run_worker(count, thread=True, exit_on_error=False, group="pin", name="users-exist")
