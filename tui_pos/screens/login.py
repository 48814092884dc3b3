"""The PIN prompt the register opens on when users exist."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from tui_pos.services import users
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.safety import Guarded


class LoginScreen(Guarded, DatabaseCalls, Screen):
    """Type the PIN, Enter."""

    class SignedIn(Message):
        """A user signed in."""

        def __init__(self, person: users.Person) -> None:
            super().__init__()
            self.person = person

    def __init__(self, store_name: str, register: str) -> None:
        super().__init__()
        self.store_name = store_name
        self.register = register

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="login"):
            yield Label(f"{self.store_name} · {self.register}", classes="dialog-title")
            yield Label("Type your PIN and press Enter", classes="dialog-prompt")
            yield Input(password=True, id="pin", placeholder="PIN", max_length=users.PIN_MAX, restrict=r"[0-9]*")
            yield Static("", id="login-message")

    @on(Input.Submitted, "#pin")
    def _submit(self, event: Input.Submitted) -> None:
        """The PIN is checked in the screen's worker (a scrypt per user: never on the UI loop)."""
        pin = event.value
        event.input.value = ""
        self.run_db(lambda: users.authenticate(pin), self._checked, name="sign-in")

    def _checked(self, person: users.Person | None) -> None:
        if person is None:
            self.say("That PIN is not known. Try again.", error=True)
            return
        self.app.post_message(self.SignedIn(person))

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py); a lockout (PinLocked) is said here as it is."""
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(error, "error")
        if error:
            self.app.bell()
