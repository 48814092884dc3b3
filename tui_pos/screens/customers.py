"""F2: find a customer by phone, card, name, code, RUC or email; create and edit them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tui_pos.domain.customer import format_phone, looks_like_phone, normalize_phone
from tui_pos.domain.errors import PosError
from tui_pos.domain.receipt import as_text, layout
from tui_pos.domain.text import printable
from tui_pos.services import customers, users
from tui_pos.services.customers import CustomerView, FormError, LookupResult
from tui_pos.services.loyalty import tier_of
from tui_pos.widgets.calls import DatabaseCalls
from tui_pos.widgets.devices import Scanned
from tui_pos.widgets.keybar import HelpLine
from tui_pos.widgets.safety import Guarded


def describe(c: CustomerView) -> str:
    """One line for a list: name, phone, code and a payment warning."""
    parts = [c.name or "(no name yet)", format_phone(c.phone or c.mobile), c.code]
    text = escape(printable("  ".join(p for p in parts if p)))
    if c.status == "closed":
        text += "  [dim](closed)[/]"
    if c.payment_status == 1:
        text += "  [b $warning]PENDING PAYMENTS[/]"
    elif c.payment_status == 2:
        text += "  [b $error]DEFAULTER[/]"
    return text


@dataclass(frozen=True)
class LookupOutcome:
    """What the lookup asks the sale screen to do."""

    action: str               # attach | detach | create_phone
    customer_id: int | None = None
    phone: str = ""
    invite: bool = True       # create_phone: the account invitation SMS on the second visit (N at the counter: no)


class QueryInput(Input):
    """The lookup's field: N is typed as usual, except after a whole phone number, where it is the
    screen's "create, no SMS" key. Decided here, in the field's own order of keys: a binding checked as
    the key arrives could see the field before the digits typed just before the N were in it."""

    def insert_text_at_cursor(self, text: str) -> None:
        screen = self.screen
        if text in ("n", "N") and isinstance(screen, CustomerLookup) and screen.new_phone_shown():
            screen.action_create_no_sms()
            return
        super().insert_text_at_cursor(text)


class CustomerLookup(Guarded, DatabaseCalls, ModalScreen[LookupOutcome | None]):
    """Type a phone (any format), its last digits, a name, code, RUC or email; Enter attaches."""

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="customer.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="customer.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="customer.up"),
        Binding("ctrl+n", "new", "New", id="customer.new", priority=True),
        Binding("ctrl+e", "edit", "Edit", id="customer.edit", priority=True),
        Binding("ctrl+d", "detail", "History", id="customer.detail", priority=True),
        Binding("ctrl+r", "detach", "Remove from note", id="customer.detach", priority=True),
        Binding("ctrl+l", "loyalty", "Loyalty", id="customer.loyalty", priority=True),
    ]

    def __init__(self, region: str, user: users.Person | None, register: str, money: Callable[[int], str],
                 receipt_text: Callable[[str], str], text: str = "", *, max_adjustment: int = 1000) -> None:
        super().__init__()
        self.max_adjustment = max_adjustment   # [loyalty] max_adjustment, for the points adjustment
        self.phone_region = region
        self.user = user
        self.register = register
        self.money = money
        self.receipt_text = receipt_text
        self.initial = text
        self.result = LookupResult(())
        self.navigated = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="lookup"):
            yield Label("Customer", classes="dialog-title")
            yield QueryInput(value=self.initial, id="query",
                        placeholder="phone, name, card, code, RUC, email, group:X, tier:X")
            yield OptionList(id="found")
            yield Static("", id="lookup-message")
            yield HelpLine("Enter: attach (an unknown phone: create it)  Up/Down: pick  Escape: back\n"
                        "Ctrl+N new  Ctrl+E edit  Ctrl+D history  Ctrl+L loyalty  Ctrl+R off the note",
                        classes="dialog-help")

    def on_mount(self) -> None:
        if self.initial:
            self.search(self.initial)

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        self.navigated = False
        self.search(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="lookup")
    def search(self, text: str) -> tuple[str, LookupResult]:
        return text, customers.lookup(text, region=self.phone_region)

    @on(Worker.StateChanged)
    def _found(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "lookup":
            return
        if event.state == WorkerState.ERROR:
            self._say("The search failed (logged); try again.", error=True)
            return
        if event.state != WorkerState.SUCCESS:
            return
        text, result = cast(tuple[str, LookupResult], event.worker.result)
        if text != self.query_one("#query", Input).value:
            return  # an older search finishing late
        self.show(result)

    def show(self, result: LookupResult) -> None:
        self.result = result
        found = self.query_one("#found", OptionList)
        found.clear_options()
        found.add_options([Option(describe(c), id=str(c.id)) for c in result.customers])
        if result.customers:
            found.highlighted = 0
        if result.new_phone:
            self._say(f"{escape(result.message)}\n[b]Enter[/]: create it (SMS invitation on the 2nd visit)   "
                      "[b]N[/]: create, no SMS")
        else:
            self._say(escape(result.message))     # it quotes what was typed: never markup

    def new_phone_shown(self) -> bool:
        """What is typed is a whole phone number (N then means "create, no SMS", not a letter).

        Decided from the text alone, at once: a cashier typing the phone and N faster than the search
        answers must not get an N in the field. Whether the phone is new is looked up when N is pressed."""
        try:
            normalize_phone(self.query_one("#query", Input).value, self.phone_region)
        except PosError:
            return False
        typed = self.query_one("#query", Input).value
        return looks_like_phone(typed) and sum(ch.isdigit() for ch in typed) >= 7

    def action_create_no_sms(self) -> None:
        """Seed 004's invitation declined at the counter: the customer is created, and never texted for it."""
        typed = self.query_one("#query", Input).value

        def looked(result: LookupResult) -> None:
            if not result.new_phone:
                self.show(result)
                self._say(f"{escape(typed)} is not a new phone: Enter attaches the customer shown.", error=True)
                return
            self.dismiss(LookupOutcome("create_phone", phone=result.new_phone, invite=False))
        # what is typed now, not an older search; in the screen's worker
        self.run_db(lambda: customers.lookup(typed, region=self.phone_region), looked, name="lookup-n")

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py)."""
        self._say(escape(text), error=error)

    def _say(self, text: str, error: bool = False) -> None:
        msg = self.query_one("#lookup-message", Static)
        msg.update(text)
        msg.set_class(error, "error")

    def action_move(self, step: int) -> None:
        found = self.query_one("#found", OptionList)
        if found.option_count:
            self.navigated = True
            found.highlighted = max(0, min(found.option_count - 1, (found.highlighted or 0) + step))

    def _highlighted(self) -> CustomerView | None:
        found = self.query_one("#found", OptionList)
        if not self.result.customers or found.highlighted is None:
            return None
        return self.result.customers[found.highlighted]

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        # the list may be older than the text: look up again on Enter (in the worker, after any call before)
        if not self.navigated:
            typed = event.value

            def looked(result: LookupResult) -> None:
                self.show(result)
                self._enter()
            self.run_db(lambda: customers.lookup(typed, region=self.phone_region), looked, name="lookup-enter")
            return
        self._enter()

    def _enter(self) -> None:
        chosen = self._highlighted()
        if chosen is not None and (len(self.result.customers) == 1 or self.navigated):
            self._choose(chosen)
        elif self.result.new_phone:
            self.dismiss(LookupOutcome("create_phone", phone=self.result.new_phone))
        elif len(self.result.customers) > 1:
            self._say(f"{len(self.result.customers)} customers match: Up/Down to pick one, then Enter.")
        else:
            self._say(escape(self.result.message) or "Type a phone, a name, a code, a RUC or an email.", error=True)

    def on_scanned(self, event: Scanned) -> None:
        """A scan while looking up: a loyalty card attaches at once; any other code is searched."""
        event.stop()
        code = event.code

        def looked(card: CustomerView | None) -> None:
            if card is not None:
                self._choose(card)
                return
            query = self.query_one("#query", Input)
            query.value = code
            query.cursor_position = len(code)
            query.focus()
        self.run_db(lambda: customers.by_card(code), looked, name="card")

    @on(OptionList.OptionSelected, "#found")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        chosen = self._highlighted()
        if chosen is not None:
            self._choose(chosen)

    def _choose(self, customer: CustomerView) -> None:
        if customer.status == "closed":
            self._say(f"{customer.label} is closed and cannot be attached.", error=True)
            return
        self.dismiss(LookupOutcome("attach", customer.id))

    def action_detach(self) -> None:
        self.dismiss(LookupOutcome("detach"))

    def action_new(self) -> None:
        text = self.query_one("#query", Input).value.strip()
        self._open_form(None, text)

    def action_edit(self) -> None:
        chosen = self._highlighted()
        if chosen is None:
            self._say("Pick a customer to edit first.", error=True)
            return
        self._open_form(chosen, "")

    def _open_form(self, customer: CustomerView | None, text: str) -> None:
        def saved(result: CustomerView | None) -> None:
            if result is not None:
                self.query_one("#query", Input).value = result.code
                self.show(LookupResult((result,), message=f"Saved {result.label}. Enter attaches."))
        self.app.push_screen(CustomerForm(self.phone_region, self.user, self.register, customer, text), saved)

    def action_detail(self) -> None:
        chosen = self._highlighted()
        if chosen is None:
            self._say("Pick a customer first.", error=True)
            return
        self.app.push_screen(CustomerDetail(chosen.id, self.money, self.receipt_text))

    def action_loyalty(self) -> None:
        chosen = self._highlighted()
        if chosen is None:
            self._say("Pick a customer first.", error=True)
            return
        from tui_pos.screens.loyalty_admin import CustomerLoyalty
        self.app.push_screen(CustomerLoyalty(chosen.id, self.user, self.register, self.max_adjustment,
                                             money=self.money))

    def action_cancel(self) -> None:
        self.dismiss(None)


# field, label, placeholder; * = a manager's to change
FORM_FIELDS = [
    ("name", "Name", ""), ("phone", "Phone", "6123-4567"), ("mobile", "Mobile", ""), ("email", "Email", ""),
    ("contact", "Contact person", ""), ("birthday", "Birthday", "YYYY-MM-DD"),
    ("cards", "Loyalty cards", "card codes, space-separated"), ("notes", "Notes", ""),
    ("fiscal_name", "Fiscal name *", ""), ("ruc", "RUC *", "8-274-125"), ("dv", "DV *", "two digits"),
    ("ruc_type", "RUC type *", "individual | corporate | foreign"),
    ("nt_person", "NT person *", "natural | juridical (NT numbers)"), ("groups", "Groups *", "VIP|Employees"),
    ("rate", "Price rate *", "rate code"), ("payment_status", "Payment status *", "0 valid, 1 pending, 2 defaulter"),
    ("status", "Status *", "open | closed"),
]


class CustomerForm(Guarded, DatabaseCalls, ModalScreen[CustomerView | None]):
    """Create or edit a customer; Ctrl+S saves. Fields marked * need a manager to change."""

    manager_cancelled = ""          # an escaped PIN prompt says nothing (as before)
    manager_refused = "Nothing was saved."

    BINDINGS = [
        Binding("escape", "cancel", "Back", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save", priority=True),
    ]

    def __init__(self, region: str, user: users.Person | None, register: str, customer: CustomerView | None,
                 text: str = "") -> None:
        super().__init__()
        self.phone_region = region
        self.user = user
        self.register = register
        self.customer = customer
        self.text = text

    def _initial(self) -> dict[str, str]:
        c = self.customer
        if c is None:
            from tui_pos.domain.customer import looks_like_phone
            return {"phone": self.text} if looks_like_phone(self.text) else {"name": self.text}
        return {"name": c.name, "phone": format_phone(c.phone), "mobile": format_phone(c.mobile), "email": c.email,
                "contact": c.contact, "birthday": c.birthday.isoformat() if c.birthday else "",
                "cards": " ".join(c.cards), "notes": c.notes, "fiscal_name": c.fiscal_name, "ruc": c.ruc,
                "dv": c.dv, "ruc_type": c.ruc_type, "nt_person": c.nt_person, "groups": "|".join(c.groups),
                "rate": c.rate, "payment_status": str(c.payment_status), "status": c.status}

    def compose(self) -> ComposeResult:
        values = self._initial()
        title = f"Customer {self.customer.code}" if self.customer else "New customer"
        with Vertical(classes="dialog wide", id="customer-form"):
            yield Label(title, classes="dialog-title")
            with VerticalScroll(id="form-fields"):
                for name, label, hint in FORM_FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input(value=values.get(name, ""), placeholder=hint, id=f"f-{name}",
                                    classes="form-input", compact=True)
                    yield Static("", id=f"e-{name}", classes="form-error error")
                with Horizontal(classes="form-row"):
                    yield Checkbox("SMS consent", value=bool(self.customer and self.customer.sms_consent),
                                   id="f-sms_consent")
                    yield Checkbox("Email consent", value=bool(self.customer and self.customer.email_consent),
                                   id="f-email_consent")
                    yield Checkbox("No marketing (STOP)", value=bool(self.customer and self.customer.marketing_opt_out),
                                   id="f-marketing_opt_out")
                with Horizontal(classes="form-row"):
                    yield Checkbox("No account invitation SMS",
                                   value=bool(self.customer and self.customer.invite_declined), id="f-invite_declined")
            yield Static("", id="form-message")
            yield HelpLine("Tab: next field  Ctrl+S: save  Escape: back (nothing saved)", classes="dialog-help")

    def _data(self) -> dict:
        data: dict[str, str | bool] = {name: self.query_one(f"#f-{name}", Input).value for name, _, _ in FORM_FIELDS}
        data["sms_consent"] = self.query_one("#f-sms_consent", Checkbox).value
        data["email_consent"] = self.query_one("#f-email_consent", Checkbox).value
        data["marketing_opt_out"] = self.query_one("#f-marketing_opt_out", Checkbox).value
        data["invite_declined"] = self.query_one("#f-invite_declined", Checkbox).value
        if self.customer is not None:
            # only what changed, so that a cashier editing a phone is not asked for a manager
            before = self._initial()
            before_flags = {"sms_consent": self.customer.sms_consent, "email_consent": self.customer.email_consent,
                            "marketing_opt_out": self.customer.marketing_opt_out,
                            "invite_declined": self.customer.invite_declined}
            data = {k: v for k, v in data.items() if v != {**before, **before_flags}.get(k, "")}
            if "ruc" in data or "dv" in data or "nt_person" in data:
                data.update(ruc=self.query_one("#f-ruc", Input).value, dv=self.query_one("#f-dv", Input).value,
                            nt_person=self.query_one("#f-nt_person", Input).value)
        return data

    def _show_errors(self, errors: dict[str, str]) -> None:
        for name, _, _ in FORM_FIELDS:
            error = self.query_one(f"#e-{name}", Static)
            error.update(errors.get(name, ""))
            error.set_class(name in errors, "shown")
        first = next((n for n, _, _ in FORM_FIELDS if n in errors), None)
        if first:
            self.query_one(f"#f-{first}", Input).focus()
        message = self.query_one("#form-message", Static)
        message.update("Fix the fields marked in red; nothing was saved." if errors else "")
        message.set_class(bool(errors), "error")

    def action_save(self, approver_id: int | None = None) -> None:
        """Save in the screen's worker (DatabaseCalls); a manager's PIN through the one gate when needed."""
        data = self._data()
        uid = self.user.id if self.user else None
        customer = self.customer
        if customer is not None and getattr(self.app, "selling_offline", False):
            # offline, a new customer goes to the server with the journal; a change to one would not
            message = self.query_one("#form-message", Static)
            message.update("The register is offline: customers are changed when the server is back (a new "
                           "customer can be made now). Nothing was saved.")
            message.set_class(True, "error")
            return

        def save(by: int | None) -> CustomerView:
            approver = by if by is not None else approver_id
            if customer is None:
                return customers.create(data, region=self.phone_region, user_id=uid, approver_id=approver,
                                        register=self.register)
            return customers.update(customer.id, data, region=self.phone_region, user_id=uid,
                                    approver_id=approver, register=self.register)

        def saved(view: CustomerView) -> None:
            if view.ruc and ("ruc" in data or "dv" in data or "fiscal_name" in data) and hasattr(self.app, "check_ruc"):
                self.app.check_ruc(view.ruc, view.dv, view.fiscal_name)
            self.dismiss(view)

        def refused(error: BaseException) -> None:
            if isinstance(error, FormError):
                self._show_errors(error.errors)
        self.with_manager(save, saved, failed=refused, name="save-customer")

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py), under the form; the fields' marks cleared."""
        self._show_errors({})
        message = self.query_one("#form-message", Static)
        message.update(text)
        message.set_class(error, "error")

    def action_cancel(self) -> None:
        self.dismiss(None)


class CustomerDetail(Guarded, DatabaseCalls, ModalScreen[None]):
    """Seed 000's history: total spent, visits, average ticket, recent purchases."""

    BINDINGS = [Binding("escape", "close", "Close", id="detail.close"),
                Binding("pageup", "scroll_body(-1)", "Scroll up", show=False, id="detail.page_up"),
                Binding("pagedown", "scroll_body(1)", "Scroll down", show=False, id="detail.page_down")]

    def __init__(self, customer_id: int, money: Callable[[int], str], receipt_text: Callable[[str], str]) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.money = money
        self.receipt_text = receipt_text

    def compose(self) -> ComposeResult:
        # the history is read in the screen's worker (DatabaseCalls): a placeholder until it answers
        with Vertical(classes="dialog wide", id="customer-detail"):
            yield Label("Customer", classes="dialog-title", id="detail-title")
            # at 24 rows a receipt is longer than the room left: the body scrolls (PgUp/PgDn)
            with VerticalScroll(id="detail-body", can_focus=False):
                yield Static("Reading the history...", id="detail-figures", markup=False)
                yield OptionList(id="recent")
                yield Static("", id="receipt-view")
                yield Static("", id="detail-messages", markup=False)
            yield HelpLine("Enter on a purchase: its receipt  PgUp/PgDn: scroll  Escape: close",
                           classes="dialog-help")

    def on_mount(self) -> None:
        self.run_db(self._read, self._fill, name="customer-detail")

    def _read(self) -> tuple[customers.Detail, str, str]:
        """In the worker: the history, the tier's name and the messages' lines."""
        d = customers.detail(self.customer_id)
        return d, tier_of(d.customer.points_earned).name, self._messages(d.customer)

    def _fill(self, read: tuple[customers.Detail, str, str]) -> None:
        d, tier, messages = read
        c = d.customer
        m = self.money
        last = c.last_visit_at.strftime("%Y-%m-%d") if c.last_visit_at else "never"
        self.query_one("#detail-title", Label).update(Text(printable(f"{c.label} · {c.code}")))  # data: never markup
        # one fact group a line, each short of 72 columns: a line that wraps puts one word alone below it
        self.query_one("#detail-figures", Static).update(
            f"Phone {format_phone(c.phone) or '-'}   Email {c.email or '-'}\n"
            f"Total spent {m(d.total_spent_cents)}   Visits {d.visits}   "
            f"Average ticket {m(d.average_ticket_cents)}\n"
            f"Last visit {last}   Points {c.points_balance}   Tier {tier or '-'}\n"
            f"RUC {c.ruc or '-'} {c.dv}   Groups {', '.join(c.groups) or '-'}   Rate {c.rate or '-'}")
        self.query_one("#recent", OptionList).add_options(
            [Option(f"{no}  {when:%Y-%m-%d %H:%M}  {m(total)}", id=no) for no, when, total in d.recent])
        self.query_one("#detail-messages", Static).update(Text(messages))

    def action_scroll_body(self, step: int) -> None:
        body = self.query_one("#detail-body", VerticalScroll)
        if step < 0:
            body.scroll_page_up()
        else:
            body.scroll_page_down()

    def _messages(self, c: customers.CustomerView) -> str:
        """Seed 004: the messages sent to this customer, and what they agreed to."""
        from tui_pos.services import consent, messaging
        rows = messaging.outbox(customer_id=self.customer_id, limit=8)
        state = (f"Messages: SMS {'yes' if c.sms_consent else 'no'}, email {'yes' if c.email_consent else 'no'}"
                 + (", marketing opted out" if c.marketing_opt_out else "")
                 + (", invitation declined" if c.invite_declined else ""))
        lines = [state]
        for e in consent.history(self.customer_id, limit=3):
            lines.append(f"  {e.at:%Y-%m-%d %H:%M}  {e.text}")
        for r in rows:
            when = (r.sent_at or r.created_at).strftime("%Y-%m-%d %H:%M")
            line = f"  {when}  {r.template:<9} {r.channel:<5} {r.state}"
            if r.state == "failed" and r.last_error:
                line += f": {r.last_error}"
            lines.append(line)
        if not rows:
            lines.append("  none sent yet")
        return "\n".join(lines)

    @on(OptionList.OptionSelected, "#recent")
    def _open(self, event: OptionList.OptionSelected) -> None:
        receipt_no = event.option.id or ""

        def show(text: str) -> None:
            view = self.query_one("#receipt-view", Static)
            view.update(text)
            self.call_after_refresh(view.scroll_visible, top=True)
        self.run_db(lambda: self.receipt_text(receipt_no), show, name="receipt")

    def say(self, text: str, *, error: bool = False) -> None:
        """The one handler's words (widgets/calls.py), where the receipt shows."""
        view = self.query_one("#receipt-view", Static)
        view.update(Text(text))
        view.set_class(error, "error")

    def action_close(self) -> None:
        self.dismiss(None)


def receipt_text_for(sales, money) -> Callable[[str], str]:
    """A receipt as the paper would read, for the history view."""
    def render(receipt_no: str) -> str:
        from rich.markup import escape
        return escape(as_text(layout(sales.receipt(receipt_no, reprint=True), 42, money)))
    return render
