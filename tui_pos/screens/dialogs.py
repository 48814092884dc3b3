"""Small modal dialogs that return a value through dismiss()."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_pos.services.users import PIN_MAX
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


class PromptDialog(Guarded, ModalScreen[str | None]):
    """One question, one answer: Enter returns the text, Escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="dialog.cancel")]

    def __init__(self, title: str, prompt: str = "", *, value: str = "", password: bool = False,
                 placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.password = password
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.prompt:
                yield Label(self.prompt, classes="dialog-prompt")
            if self.password:   # a PIN: digits only, at most PIN_MAX
                yield Input(value=self.value, password=True, placeholder=self.placeholder, id="answer",
                            max_length=PIN_MAX, restrict=r"[0-9]*")
            else:
                yield Input(value=self.value, password=False, placeholder=self.placeholder, id="answer")
            yield HelpLine("Enter: OK   Escape: back", classes="dialog-help")

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(Guarded, ModalScreen[str | None]):
    """Pick one of several options (Up/Down, Enter); Escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="dialog.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], empty: str = "Nothing to choose.") -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.options:
                # labels are data (a parked note's name, a reason): drawn as text, never as markup ("[/b]")
                yield OptionList(*[Option(Text(label), id=key) for key, label in self.options], id="choices")
            else:
                yield Label(self.empty, classes="dialog-prompt")
            yield HelpLine("Enter: choose   Escape: back", classes="dialog-help")

    @on(OptionList.OptionSelected, "#choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InfoDialog(Guarded, ModalScreen[None]):
    """A page of text; any of Escape or Enter closes it."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="dialog.close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="info-body"):   # a long page scrolls (Up/Down) on a 25-row console
                yield Label(self.text, markup=False)
            long = self.text.count("\n") >= 15      # past the body's 16 rows: say that there is more
            yield HelpLine("Up/Down: more  Escape: close" if long else "Escape: close", classes="dialog-help")

    def action_close(self) -> None:
        self.dismiss(None)
