"""The outbox and campaigns on the register (Ctrl+G), and a customer's messages in their history."""

from helpers import until
from textual.widgets import DataTable, Select, TabbedContent, TextArea

from tests.servers import SmsGateway
from tui_pos.models import Customer, CustomerGroup, CustomerGroupMember, Message
from tui_pos.services import customers, messaging


def text(app, sel):
    return str(app.screen.query_one(sel).render())


async def test_outbox_campaign_and_history(make_app):
    gateway = SmsGateway().start()
    try:
        app = make_app(config={"sms": {"kind": "http", "url": gateway.url, "timeout": 1},
                               "messages": {"profile_url": "https://sol.example/p?t={token}", "secret": "k"}})
        ana = customers.create({"name": "Ana", "mobile": "6123-4567", "sms_consent": True}, region="PA")
        fixed = customers.create({"name": "Fija", "phone": "212-3456", "sms_consent": True}, region="PA")
        CustomerGroupMember.create(customer=ana.id, group=CustomerGroup.get(CustomerGroup.name == "VIP").id)
        sales = app.runtime.sales
        for _ in range(2):                          # the second visit queues the invitation
            note = sales.open_note()
            sales.add_item(note, "ESP")
            sales.attach_customer(note, ana.id)
            sales.pay(note)
        messaging.queue(fixed.id, "sms", "tier", "tier:fixed", {"tier": "Gold"})
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press(*"1111", "enter")
            await pilot.pause()
            app.send_messages()                     # the app's own sender, in a worker
            await until(pilot, lambda: app.message_result is not None)
            assert len(gateway.received) == 1 and "sol.example/p?t=" in gateway.received[0]["text"]
            await pilot.press("ctrl+g")
            await pilot.pause()
            await pilot.press(*"1111", "enter")     # a cashier: refused
            await pilot.pause()
            assert "manager's" in text(app, "#message")
            await pilot.press("ctrl+g")
            await pilot.pause()
            await pilot.press(*"2222", "enter")
            table = None
            await until(pilot, lambda: app.screen.query("#outbox") and app.screen.query_one("#outbox").row_count == 2)
            table = app.screen.query_one("#outbox", DataTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            states = {r[4]: (r[2], r[7]) for r in rows}
            assert states["invite"][0] == "sent"
            assert states["tier"][0] == "failed" and "fixed line" in states["tier"][1]
            assert "failed 1" in text(app, "#outbox-counts") and "sent 1" in text(app, "#outbox-counts")
            # Retry a failed one: the customer's mobile fixed first
            Customer.update(mobile="+50761234599").where(Customer.id == fixed.id).execute()
            table.move_cursor(row=[i for i, r in enumerate(rows) if r[4] == "tier"][0])
            await pilot.press("ctrl+r")
            await until(pilot, lambda: Message.get(Message.key == "tier:fixed").state in ("queued", "sending", "sent"))
            await app.workers.wait_for_complete()
            await until(pilot, lambda: Message.get(Message.key == "tier:fixed").state == "sent")
            # a campaign: nothing goes without a preview; the preview counts and shows the text
            await pilot.press("ctrl+t")
            await pilot.pause()
            app.screen.query_one("#campaign-audience", Select).value = "group:VIP"
            app.screen.query_one("#campaign-text", TextArea).text = "Hola {name}, 2x1 hoy en {store}"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "Preview it first" in text(app, "#messages-message")
            await pilot.press("ctrl+p")
            await pilot.pause()
            preview = text(app, "#campaign-preview")
            assert "1 customer will get it" in preview and "Hola Ana, 2x1 hoy en" in preview
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.press("enter")              # "Send it to 1 customer"
            await pilot.pause()
            assert "1 messages queued" in text(app, "#messages-message")
            # Ctrl+T goes back to the outbox from the campaign's text, and forth again
            app.screen.query_one("#campaign-text", TextArea).focus()
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert app.screen.query_one(TabbedContent).active == "tab-outbox"
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert app.screen.query_one(TabbedContent).active == "tab-campaign"
            await pilot.press("escape")
            await pilot.pause()
        assert Message.select().where(Message.template == "campaign").count() == 1
    finally:
        gateway.stop()


async def test_customer_history_lists_the_messages(make_app):
    from tui_pos.screens.customers import CustomerDetail
    app = make_app(demo_users=False)
    c = customers.create({"name": "Eva", "mobile": "6123-4567", "sms_consent": True}, region="PA")
    messaging.queue(c.id, "sms", "tier", "t", {"tier": "Gold"})
    messaging.opt_out("6123-4567", region="PA")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.push_screen(CustomerDetail(c.id, app.runtime.money, lambda n: n))
        await pilot.pause()
        shown = text(app, "#detail-messages")
        assert "SMS no, email no, marketing opted out, invitation declined" in shown     # STOP withdrew SMS
        assert "withdrew SMS messages (stop)" in shown and "tier" in shown and "queued" in shown


async def test_with_triggers_on_a_timer_no_register_looks_for_birthdays(make_app, monkeypatch):
    """Issue 23 item 4: the triggers "can run from `tui-pos messages triggers` on a timer ... instead of in
    every register" (`[messages] triggers = "timer"`); by default a register still runs them."""
    looked: list[str] = []
    monkeypatch.setattr(messaging, "run_triggers", lambda settings, now=None: looked.append(settings.triggers) or {})
    gateway = SmsGateway().start()
    try:
        for mode, expected in (("timer", []), ("register", ["register"])):
            looked.clear()
            app = make_app(demo_users=False, config={"sms": {"kind": "http", "url": gateway.url, "timeout": 1},
                                                     "messages": {"triggers": mode}})
            async with app.run_test(size=(80, 24)) as pilot:
                app.message_result = None
                app.send_messages()
                await until(pilot, lambda a=app: a.message_result is not None)
            assert looked == expected
    finally:
        gateway.stop()
