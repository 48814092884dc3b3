"""Messages (Ctrl+G, a manager's): the outbox with failures and Retry, and campaigns with a count and a preview."""

from __future__ import annotations

import logging
from typing import cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select, Static, TabbedContent, TabPane, TextArea
from textual.worker import Worker, WorkerState

from tui_pos.domain.errors import PosError
from tui_pos.screens.dialogs import ChoiceDialog
from tui_pos.services import customers, loyalty, messaging, users
from tui_pos.services.connection import worker_connection
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded

log = logging.getLogger(__name__)

def _customers(n: int) -> str:
    return f"{n} customer" if n == 1 else f"{n} customers"


STATES = [("every state", ""), ("queued", "queued"), ("failed", "failed"), ("sent", "sent")]


class MessagesScreen(Guarded, DatabaseCalls, ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="messages.close"),
        Binding("f5", "refresh", "Refresh", id="messages.refresh"),
        Binding("ctrl+r", "retry", "Retry", id="messages.retry", priority=True),
        Binding("ctrl+t", "next_tab", "Next tab", id="messages.next_tab", priority=True),
        Binding("ctrl+p", "preview", "Preview", id="messages.preview", priority=True),
        Binding("ctrl+s", "send", "Send", id="messages.send", priority=True),
    ]

    def __init__(self, settings: messaging.Settings, user: users.Person | None) -> None:
        super().__init__()
        self.settings = settings
        self.user = user
        self.previewed: tuple | None = None   # (audience, channel, text, subject, count) last previewed

    def compose(self) -> ComposeResult:
        audiences = [("every customer who agreed", "all")]   # the groups and tiers come from the worker
        with Vertical(classes="dialog full", id="messages"):
            yield Label("Messages", classes="dialog-title")
            with TabbedContent(id="messages-tabs"):
                with TabPane("Outbox", id="tab-outbox"):
                    with Horizontal(classes="filters"):
                        yield Select(STATES, value="", allow_blank=False, id="outbox-state")
                        yield Static("", id="outbox-counts")
                    yield DataTable(id="outbox", cursor_type="row")
                with TabPane("Campaign", id="tab-campaign"):
                    with Horizontal(classes="filters"):
                        yield Select(audiences, value="all", allow_blank=False, id="campaign-audience")
                        yield Select([("SMS", "sms"), ("Email", "email")], value="sms", allow_blank=False,
                                     id="campaign-channel")
                    yield Input(placeholder="email subject", id="campaign-subject")
                    yield TextArea("", id="campaign-text", soft_wrap=True)
                    yield Static("Write the message ({name} and {store} are filled in), Ctrl+P to preview.",
                                 id="campaign-preview")
            yield Static("", id="messages-message")
            yield HelpLine("Ctrl+T tab  F5 refresh  Ctrl+R retry  Ctrl+P preview  Ctrl+S send  Esc close",
                        classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one("#outbox", DataTable)
        table.add_columns("#", "when", "state", "via", "what", "customer", "to", "why")
        self.action_refresh()
        self.run_db(self._audiences, self._show_audiences, name="audiences")

    @staticmethod
    def _audiences() -> list[tuple[str, str]]:
        """In the worker: whom a campaign may go to (every customer, a group, a tier)."""
        prog = loyalty.program()
        audiences = [("every customer who agreed", "all")]
        audiences += [(f"group {name}", f"group:{name}") for name, _ in customers.groups()]
        audiences += [(f"tier {t.name}", f"tier:{t.name}") for t in (prog.tiers if prog else ())]
        return audiences

    def _show_audiences(self, audiences: list[tuple[str, str]]) -> None:
        if not self.query("#campaign-audience"):  # the tabs' panes are still being mounted
            self.set_timer(0.05, lambda: self._show_audiences(audiences))
            return
        select = self.query_one("#campaign-audience", Select)
        chosen = select.value
        select.set_options(audiences)
        select.value = chosen if any(value == chosen for _, value in audiences) else "all"

    # ------------------------------------------------------------ the outbox

    def action_refresh(self) -> None:
        self._load(self.query_one("#outbox-state", Select).value or None)

    @on(Select.Changed, "#outbox-state")
    def _state_changed(self, event: Select.Changed) -> None:
        self.action_refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="messages", name="outbox")
    def _load(self, state: str | None):
        with worker_connection():
            return messaging.outbox(state=state), messaging.counts()

    @on(Worker.StateChanged)
    def _done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "messages" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if event.state == WorkerState.ERROR:
            log.error("messages: %s failed", event.worker.name, exc_info=event.worker.error)
            self.say("The outbox could not be read; it was logged. F5 to try again.", error=True)
            return
        rows, counts = cast(tuple[list[messaging.OutboxRow], dict[str, int]], event.worker.result)
        table = self.query_one("#outbox", DataTable)
        table.clear()
        for r in rows:
            when = (r.sent_at or r.created_at).strftime("%m-%d %H:%M")
            table.add_row(str(r.id), when, r.state, r.channel, r.template, Text(r.customer[:24]), Text(r.to),
                          Text(r.last_error[:60]), key=str(r.id))   # data: drawn as text, never markup
        self.query_one("#outbox-counts", Static).update(
            Text("  " + ("  ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "the outbox is empty")))

    def action_retry(self) -> None:
        table = self.query_one("#outbox", DataTable)
        if not table.row_count:
            self.say("Nothing to retry.", error=True)
            return
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

        def queued(_: object) -> None:
            self.say(f"Message {key} queued again: it goes with the next send.")
            self.action_refresh()
            retry_now = getattr(self.app, "send_messages", None)
            if retry_now:
                retry_now()
        self.run_db(lambda: messaging.retry(int(key)), queued, name="retry")   # a PosError is said as it is

    # ------------------------------------------------------------ campaigns

    def _campaign(self) -> tuple[str, str, str, str]:
        return (str(self.query_one("#campaign-audience", Select).value),   # never blank (allow_blank=False)
                str(self.query_one("#campaign-channel", Select).value),
                self.query_one("#campaign-text", TextArea).text.strip(),
                self.query_one("#campaign-subject", Input).value.strip())

    def action_preview(self) -> None:
        audience, channel, text, subject = self._campaign()
        settings = self.settings

        def preview() -> messaging.Preview | PosError:
            try:
                return messaging.preview(settings, audience, channel, text, subject)
            except PosError as exc:
                return exc

        def shown(p: messaging.Preview | PosError) -> None:
            if isinstance(p, PosError):
                self.previewed = None
                self.query_one("#campaign-preview", Static).update(Text(str(p), style="bold red"))
                return
            self.previewed = (audience, channel, text, subject, p.count)
            lines = [f"{_customers(p.count)} will get it ({channel}, with consent, not opted out)."]
            if p.count:
                lines.append(f"The first reads: {p.sample}")
            lines.append("Ctrl+S sends it." if p.count else "Nobody to send it to.")
            self.query_one("#campaign-preview", Static).update(Text("\n".join(lines)))
        self.run_db(preview, shown, name="preview")

    def action_send(self) -> None:
        audience, channel, text, subject = self._campaign()
        if self.previewed is None or self.previewed[:4] != (audience, channel, text, subject):
            self.say("Preview it first (Ctrl+P): you see who gets it and what they read.", error=True)
            return
        count = self.previewed[4]
        if not count:
            self.say("Nobody to send it to.", error=True)
            return

        def answered(choice: str | None) -> None:
            if choice != "send":
                self.say("Not sent.")
                return
            settings, user_id = self.settings, self.user.id if self.user else None

            def sent(queued: tuple[int, int]) -> None:
                cid, n = queued
                self.previewed = None
                self.say(f"Campaign {cid}: {n} messages queued, sent at most {settings.per_minute} a minute.")
                self.action_refresh()
                retry_now = getattr(self.app, "send_messages", None)
                if retry_now:
                    retry_now()
            self.run_db(lambda: messaging.send_campaign(settings, audience, channel, text, subject, user_id=user_id),
                        sent, name="send-campaign")   # a PosError is said as it is
        self.app.push_screen(ChoiceDialog(f"Send to {_customers(count)}?",
                                          [("send", f"Send it to {_customers(count)}"), ("no", "Not now")]), answered)

    # ------------------------------------------------------------ plumbing

    def action_next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "tab-campaign" if tabs.active == "tab-outbox" else "tab-outbox"
        # focus goes with the tab: left in the campaign's text, it pulled the Campaign tab back at once
        self.query_one("#campaign-audience" if tabs.active == "tab-campaign" else "#outbox").focus()

    def say(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#messages-message", Static)
        msg.update(Text(text))
        msg.set_class(error, "error")

    def action_close(self) -> None:
        self.dismiss(None)
