"""Registers that keep selling while the server is away (issue 24, docs/offline.md): the replica, the journal,
exactly-once sync, the offline redeem cap and its discrepancies, on the real PostgreSQL through a TCP relay
the tests cut."""

from __future__ import annotations

import pytest

from tui_pos.domain.errors import InputError
from tui_pos.models import Customer, LoyaltyMovement, Note, Payment, Product, SyncDiscrepancy, db
from tui_pos.services.offline import Offline, Settings, replica
from tui_pos.services.sales import SaleService

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(pg_proxy_url):
    """The demo store (with its loyalty program and customers) on PostgreSQL, reached through the relay."""
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    url, proxy = pg_proxy_url
    database = bind(url)
    migrate(database)
    seed_demo(with_loyalty=True)
    yield database, proxy
    db.initialize(database)
    if not database.is_closed():
        database.close()


def register(server_db, tmp_path, code="R1", cap=500) -> tuple[SaleService, Offline]:
    sales = SaleService(code, tenders=["cash", "card"])
    _ = sales.register_id
    sales.offline = Offline(Settings(True, str(tmp_path / f"replica-{code}.sqlite"), cap, 20), code, server_db)
    return sales, sales.offline


def ledger_matches() -> None:
    """Every balance equals the sum of its ledger (what `tui-pos doctor` checks)."""
    from tui_pos.services import loyalty
    assert loyalty.ledger_mismatches() == []


def sell(sales: SaleService, skus: list[str], customer: int | None = None, redeem: int | None = None) -> str:
    note = sales.open_note(None)
    for sku in skus:
        sales.scan(note, sku)
    if customer is not None:
        sales.attach_customer(note, customer)
    if redeem:
        sales.redeem(note, redeem)
    result = sales.pay(note)
    assert result.completed
    return result.receipt_no


def ana() -> int:
    return Customer.get(Customer.code == "C-ANA").id


def test_a_sale_made_offline_reaches_the_server_once_even_replayed(server, tmp_path):
    """Issue 24 item 3: "replaying a journal after a lost acknowledgement, a crash or kill -9 never doubles a
    sale or a point"."""
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    built = offline.build()
    assert built.rows["product"] == Product.select().count() and built.rows["customer"] == 3
    customer = ana()
    before = Customer.get_by_id(customer).points_balance
    online = sell(sales, ["ESP"])                          # R1-000001 on the server
    proxy.cut()
    assert offline.go_offline()
    receipt = sell(sales, ["ESP", "CAPP"], customer)      # on the replica
    assert receipt != online and receipt == "R1-000002"    # the register's own sequence, past the online one
    assert offline.state().pending_sales == 1
    proxy.start()
    report = offline.sync()
    assert (report.sales, report.sent) == (1, 1)
    with db.routed(server_db):
        note = Note.get(Note.receipt_no == receipt)
        assert note.uid and note.customer_id == customer and note.status == "paid"
        earned = Customer.get_by_id(customer).points_balance - before
        assert earned > 0
        # the acknowledgement is lost: the replica still says pending; the replay applies nothing
    conn = replica.connect(offline.path)
    conn.execute("UPDATE journal SET state = 'pending'")
    conn.close()
    again = offline.sync()
    assert (again.sent, again.already) == (0, 1)
    with db.routed(server_db):
        assert Note.select().where(Note.receipt_no == receipt).count() == 1
        assert Payment.select().where(Payment.note == note.id).count() == 1
        assert Customer.get_by_id(customer).points_balance - before == earned
        assert LoyaltyMovement.select().where(LoyaltyMovement.receipt_no == receipt).count() >= 1
        ledger_matches()
    offline.go_online()
    offline.cycle()        # tidied and refreshed: the replica's balance is the server's again
    conn = replica.connect(offline.path)
    assert conn.execute("SELECT points_balance FROM customer WHERE id = ?", (customer,)).fetchone()[0] == \
        before + earned
    assert conn.execute("SELECT count(*) FROM note").fetchone()[0] == 0
    conn.close()
    assert sell(sales, ["ESP"]) == "R1-000003"              # online again, the sequence goes on


def test_points_spent_on_two_offline_registers_are_a_discrepancy_never_a_negative_balance(server, tmp_path):
    """Issue 24 item 2: "an overrun (the same customer spending on two offline registers) is recorded as a
    discrepancy for the manager to see, never as a negative balance silently written"."""
    server_db, proxy = server
    customer = ana()
    from tui_pos.services import loyalty
    loyalty.move(customer, -520, "adjust", reason="test")
    assert Customer.get_by_id(customer).points_balance == 300
    r1, off1 = register(server_db, tmp_path, "R1", cap=250)
    r2, off2 = register(server_db, tmp_path, "R2", cap=250)
    off1.build()
    off2.build()
    proxy.cut()
    # two registers, each offline on its own replica (the proxy is process-wide: each switches in turn)
    off1.go_offline()
    first = sell(r1, ["BEAN1"], customer, redeem=200)
    with pytest.raises(InputError):
        r1.redeem(r1.open_note(None), 100)                 # past the cap on this register: 250 - 200 left 50
    off2.go_offline()
    second = sell(r2, ["BEAN1"], customer, redeem=200)
    proxy.start()
    off1.sync()
    off2.sync()
    db.initialize(server_db)
    with db.routed(server_db):
        balance = Customer.get_by_id(customer).points_balance
        assert balance >= 0
        gap = SyncDiscrepancy.get(SyncDiscrepancy.kind == "overrun")
        earned_first = Note.get(Note.receipt_no == first).loyalty_earned
        # what was left when the second sale arrived: 300, less 200 spent on R1, plus what R1's sale earned
        assert (gap.points_asked, gap.points_taken) == (200, 300 - 200 + earned_first) and gap.receipt_no == second
        assert balance == Note.get(Note.receipt_no == second).loyalty_earned   # all spent, then its own earning
        assert gap.customer_id == customer and first != second
        ledger_matches()


def test_the_offline_cap_limits_what_a_customer_spends_until_the_next_sync(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path, cap=150)
    offline.build()
    proxy.cut()
    offline.go_offline()
    note = sales.open_note(None)
    sales.scan(note, "BEAN1")
    sales.attach_customer(note, ana())
    with pytest.raises(InputError):
        sales.redeem(note, 200)                 # 820 on the server, but 150 here until the next sync
    sales.redeem(note, 100)
    assert sales.pay(note).completed
    note = sales.open_note(None)
    sales.scan(note, "BEAN1")
    sales.attach_customer(note, ana())
    with pytest.raises(InputError):
        sales.redeem(note, 100)                 # 50 left of the cap
    proxy.start()
    offline.sync()
    offline.go_online()


def test_the_replica_refreshes_only_what_changed(server, tmp_path):
    server_db, _ = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    Product.update(price_cents=999).where(Product.sku == "ESP").execute()
    gone = Product.create(sku="GONE", name="Gone soon", price_cents=100)
    Product.delete().where(Product.id == gone.id).execute()
    refreshed = offline.cycle()
    assert refreshed is not None and refreshed.changed >= 1 and refreshed.removed >= 1
    conn = replica.connect(offline.path)
    assert conn.execute("SELECT price_cents FROM product WHERE sku = 'ESP'").fetchone()[0] == 999
    assert conn.execute("SELECT count(*) FROM product WHERE sku = 'GONE'").fetchone()[0] == 0
    conn.close()
    assert offline.cycle().changed == 0        # nothing new: nothing read


def test_a_customer_made_offline_is_made_on_the_server_with_their_card_and_sales(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    proxy.cut()
    offline.go_offline()
    from tui_pos.services import customers
    made = customers.create({"name": "Nuevo Cliente", "phone": "6999-1234", "cards": ["LOY-9999"]}, region="PA")
    receipt = sell(sales, ["CAPP"], made.id)
    proxy.start()
    report = offline.sync()
    assert report.customers == 1 and report.sales == 1
    with db.routed(server_db):
        server_customer = Customer.get(Customer.phone == "+50769991234")
        assert server_customer.code == f"C{server_customer.id:06d}"
        assert Note.get(Note.receipt_no == receipt).customer_id == server_customer.id
        assert server_customer.points_balance > 0 and server_customer.visits == 1
        assert [c.code for c in server_customer.cards] == ["LOY-9999"]
        ledger_matches()
    assert offline.customer_map[made.id] == server_customer.id


def test_one_receipt_clash_renumbers_that_receipt_only(server, tmp_path):
    """An online sale whose answer never reached the register (so the replica's counter never moved past it),
    then three offline sales: the first offline receipt clashes and is renumbered past the journal; the two
    after it keep the numbers printed on them."""
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    seen = offline.seen_receipt
    offline.seen_receipt = lambda receipt_no: None         # the answer was lost
    online = sell(sales, ["ESP"])
    offline.seen_receipt = seen
    proxy.cut()
    offline.go_offline()
    printed = [sell(sales, ["CAPP"]) for _ in range(3)]
    assert printed[0] == online == "R1-000001"
    proxy.start()
    offline.sync()
    offline.go_online()
    with db.routed(server_db, fresh=True):
        stored = [n.receipt_no for n in Note.select().where(Note.uid.is_null(False)).order_by(Note.id)]
        assert stored == ["R1-000004", "R1-000002", "R1-000003"]
        gap = SyncDiscrepancy.get(SyncDiscrepancy.kind == "receipt_clash")
        assert "R1-000001" in gap.detail and gap.receipt_no == "R1-000004"
        assert SyncDiscrepancy.select().count() == 1


def test_an_offline_return_takes_its_earning_back_from_the_lifetime_points_too(server, tmp_path):
    from tui_pos.services import returns
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    customer = ana()
    earned_before = Customer.get_by_id(customer).points_earned
    proxy.cut()
    offline.go_offline()
    receipt = sell(sales, ["BEAN1"], customer)
    found = returns.find(receipt)
    from tui_pos.services import users
    returns.refund(sales, receipt, {found.lines[0].line_id: 1}, approver_id=users.manager_for("2222").id)
    proxy.start()
    offline.sync()
    offline.go_online()
    with db.routed(server_db, fresh=True):
        assert Customer.get_by_id(customer).points_earned == earned_before
        ledger_matches()


def test_a_customer_made_offline_is_never_taken_for_a_server_customer_of_the_same_id(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    other = Customer.create(code="C-OTHER", name="Somebody Else", phone="+50760001111")   # after the refresh
    proxy.cut()
    offline.go_offline()
    from tui_pos.services import customers
    made = customers.create({"name": "Nueva Persona", "phone": "6999-5555"}, region="PA")
    assert made.id == other.id                   # the same id, on two databases
    proxy.start()
    assert offline.server_customer(made.id) == made.id          # not known as made offline until a sync
    offline.sync()
    assert offline.server_customer(made.id) not in (None, other.id)
    offline.go_online()


def test_a_sync_from_another_process_never_tidies_a_replica_the_register_sells_on(server, tmp_path):
    """`tui-pos sync --now` while the register sells offline: it may send the journal, never drop the replica's
    notes under the register."""
    import os

    from tui_pos.services.offline.replica import SellingOffline
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    (tmp_path / "replica-R1.sqlite.selling").write_text(str(os.getppid()))   # a live process sells on it
    conn = replica.connect(offline.path)
    conn.execute("INSERT INTO note (register_id, kind, status, sales_mode, label, opened_at, total_cents, "
                 "tier_name, tier_multiplier, redeem_points, redeem_cents) "
                 "VALUES (1, 'sale', 'open', 'counter', '', '2026-12-07', 0, '', '1', 0, 0)")
    with pytest.raises(SellingOffline):
        replica.purge(conn)
    assert offline.cycle() is None
    assert conn.execute("SELECT count(*) FROM note").fetchone()[0] == 1
    conn.close()


def test_a_customer_made_offline_and_merged_keeps_their_card_and_consent(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    Customer.create(code="C-ELSEWHERE", name="Made at another register", phone="+50769997777")   # after the build
    proxy.cut()
    offline.go_offline()
    from tui_pos.services import customers
    made = customers.create({"name": "The same person", "phone": "6999-7777", "cards": ["LOY-4242"],
                             "sms_consent": True}, region="PA")
    proxy.start()
    offline.sync()
    offline.go_online()
    with db.routed(server_db, fresh=True):
        merged = Customer.get(Customer.code == "C-ELSEWHERE")
        assert offline.customer_map[made.id] == merged.id
        assert "LOY-4242" in [c.code for c in merged.cards] and merged.sms_consent


def test_a_call_in_flight_ends_on_the_database_it_began_on(tmp_path):
    """docs/offline.md: a worker's call keeps its database when the register switches (never half on each)."""
    import threading

    from tui_pos.models.db import open_database, worker_connection
    first = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    second = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    db.initialize(first)
    inside, switched, seen = threading.Event(), threading.Event(), []

    def call() -> None:
        with worker_connection():
            inside.set()
            switched.wait(5)
            seen.append(db.obj)
        seen.append(db.obj)

    worker = threading.Thread(target=call)
    worker.start()
    inside.wait(5)
    db.initialize(second)
    switched.set()
    worker.join()
    assert seen == [first, second]


def test_a_failed_connect_leaves_the_thread_free_to_follow_the_switch(tmp_path):
    from tui_pos.models.db import open_database, worker_connection
    dead = open_database("postgresql://postgres@127.0.0.1:1/none")
    db.initialize(dead)
    from peewee import OperationalError
    with pytest.raises(OperationalError), worker_connection():
        pass
    replica_db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    db.initialize(replica_db)
    assert db.obj is replica_db


@pytest.mark.parametrize("how", ["network cut", "backend killed"])
def test_a_sync_cut_in_the_middle_resumes_and_applies_each_sale_once(server, tmp_path, how):
    """Issue 24's tests: "cut ... mid-sync; PostgreSQL connections killed server-side". The batch in flight is
    lost whole; the next sync resumes at the first entry still pending."""
    import psycopg
    from peewee import InterfaceError, OperationalError

    from tests.conftest import PG_URL
    from tui_pos.services.offline import sync
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    proxy.cut()
    offline.go_offline()
    receipts = [sell(sales, ["ESP"]) for _ in range(250)]
    proxy.start()
    offline.go_online()

    def cut_after_the_first_batch(done: int) -> None:
        if how == "network cut":
            proxy.cut()
        else:
            with psycopg.connect(PG_URL, autocommit=True) as admin:   # the register's connections, from the server
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(%s)",
                              (proxy.server_ports(),))
    conn = replica.connect(offline.path)
    with pytest.raises((OperationalError, InterfaceError)), db.routed(server_db, fresh=True):
        sync.send(conn, "R1", on_entry=cut_after_the_first_batch)
    assert 0 < replica.pending(conn) < 250
    conn.close()
    if not proxy.up:
        proxy.start()
    offline.sync()
    with db.routed(server_db, fresh=True):
        assert sorted(n.receipt_no for n in Note.select().where(Note.uid.is_null(False))) == sorted(receipts)
        assert Payment.select().count() == 250
    assert offline.state().pending == 0


def test_an_entry_the_server_refuses_is_kept_and_reported_and_never_holds_up_the_rest(server, tmp_path,
                                                                                     monkeypatch):
    from peewee import IntegrityError

    from tui_pos.services.offline import sync
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    proxy.cut()
    offline.go_offline()
    receipts = [sell(sales, ["ESP"]) for _ in range(3)]
    proxy.start()
    offline.go_online()
    apply_note = sync._apply_note

    def refuse_the_second(conn, entry, ctx, fiscal, report):
        if conn.execute("SELECT receipt_no FROM note WHERE id = ?", (entry["ref"],)).fetchone()[0] == receipts[1]:
            raise IntegrityError("a constraint the server has and the register could not know")
        return apply_note(conn, entry, ctx, fiscal, report)
    monkeypatch.setattr(sync, "_apply_note", refuse_the_second)
    report = offline.sync()
    assert (report.sent, report.failed) == (2, 1)
    assert offline.state().failed == 1 and offline.state().pending == 0
    assert offline.cycle() is None                     # the replica keeps the refused sale: not tidied
    with db.routed(server_db, fresh=True):
        assert sorted(n.receipt_no for n in Note.select().where(Note.uid.is_null(False))) == [receipts[0],
                                                                                               receipts[2]]
        assert SyncDiscrepancy.get(SyncDiscrepancy.kind == "sync_failed").detail
    monkeypatch.setattr(sync, "_apply_note", apply_note)
    assert offline.retry_failed() == 1
    assert offline.sync().sent == 1
    with db.routed(server_db, fresh=True):
        assert Note.select().where(Note.uid.is_null(False)).count() == 3


def test_a_part_paid_note_left_on_the_server_is_cancelled_when_its_payments_go_on_with_it(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    left = sales.open_note(None)
    view = sales.scan(left, "BEAN1")
    sales.pay(left, "card", 100)
    proxy.cut()
    offline.go_offline()
    carried = sales.carry([view.line], None, cashier_id=None, carried_from=left, payments=(("card", 100),))
    assert sales.summary(carried.note_id).paid_cents == 100
    assert sales.pay(carried.note_id).completed
    proxy.start()
    offline.sync()
    offline.go_online()
    with db.routed(server_db, fresh=True):
        assert Note.get_by_id(left).status == "cancelled"
        paid = Note.get(Note.uid.is_null(False))
        assert sum(p.amount_cents for p in Payment.select().where(Payment.note == paid)) == paid.total_cents


def test_a_new_stay_offline_forgets_the_last_ones_customer_ids(server, tmp_path):
    server_db, proxy = server
    sales, offline = register(server_db, tmp_path)
    offline.build()
    proxy.cut()
    offline.go_offline()
    from tui_pos.services import customers
    made = customers.create({"name": "Made Offline", "phone": "6999-3333"}, region="PA")
    proxy.start()
    offline.sync()
    offline.go_online()
    assert offline.server_customer(made.id) is not None and made.id in offline.made_offline
    offline.cycle()
    proxy.cut()
    offline.go_offline()                       # the replica's id `made.id` may be someone else's now
    assert offline.server_customer(made.id) == made.id and not offline.customer_map
    proxy.start()
    offline.go_online()
