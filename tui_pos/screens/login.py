"""The PIN prompt the register opens on when users exist."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from tui_pos.widgets.safety import Guarded

from tui_pos.services import users


class LoginScreen(Guarded, Screen):
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
        try:
            person = users.authenticate(event.value)
        except users.PinLocked as locked:
            event.input.value = ""
            self.query_one("#login-message", Static).update(str(locked))
            self.query_one("#login-message").add_class("error")
            self.app.bell()
            return
        event.input.value = ""
        if person is None:
            self.query_one("#login-message", Static).update("That PIN is not known. Try again.")
            self.query_one("#login-message").add_class("error")
            self.app.bell()
            return
        self.app.post_message(self.SignedIn(person))
