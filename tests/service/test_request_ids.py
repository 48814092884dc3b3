"""Retries that cannot double (issue 28, item 13), on SQLite and PostgreSQL.

"A refund or an adjustment retried after a lost answer is written once (a
request id, unique), and each ledger row is unique per document and kind."
"""

import textwrap
import uuid

import pytest
from peewee import IntegrityError

from tui_pos.models import AuditLog, Customer, LoyaltyMovement, Note, Payment, PrintJob, Product, StampEvent, db
from tui_pos.services import customers, loyalty, loyalty_admin, printing, returns, stamps
from tui_pos.services.sales import SaleService

PROGRAM = textwrap.dedent('''
    [program]
    mode = "points"
    earn_points = 1
    per_amount = "1.00"

    [redemption]
    points = 100
    value = "1.00"
    minimum = 100

    [[tiers]]
    name = "Bronze"
    threshold = 0
    multiplier = "1"

    [[offers]]
    name = "10th coffee free"
    section = "Coffee"
    count = 10
    reward_sku = "ESP"
''')


@pytest.fixture
def queued(demo):
    """A register with a printer: completing a note queues its receipt."""
    return SaleService("R1", store_name="Test Store", tenders=["cash", "card"], print_queue=True)


@pytest.fixture
def program(demo, tmp_path):
    path = tmp_path / "loyalty.toml"
    path.write_text(PROGRAM)
    Product.update(points_cost=150).where(Product.sku == "ESP").execute()
    return loyalty.import_program(path)


def new_customer(points=0):
    c = customers.create({"name": "Ana"}, region="PA")
    if points:
        loyalty.opening_balance(c.id, points)
    return c.id


def sell(sales, *codes, customer_id=None):
    note = sales.open_note()
    for code in codes:
        sales.add_item(note, code)
    if customer_id:
        sales.attach_customer(note, customer_id)
    return sales.pay(note).receipt_no


def counts():
    """Everything a refund or an adjustment writes, counted."""
    return (Note.select().count(), Payment.select().count(), LoyaltyMovement.select().count(),
            StampEvent.select().count(), PrintJob.select().count(), AuditLog.select().count())


def refund_all(sales, number, manager_id, request_id):
    picks = {line.line_id: line.returnable_qty for line in returns.find(number).lines}
    return returns.refund(sales, number, picks, "cash", approver_id=manager_id, request_id=request_id)


# ---------------------------------------------------------------- refunds


def test_a_refund_retried_with_its_request_id_is_written_once(queued, program, manager_id):
    cid = new_customer()
    number = sell(queued, "3*LATT", customer_id=cid)
    rid = uuid.uuid4().hex
    first = refund_all(queued, number, manager_id, rid)
    before = counts()
    # the answer was lost: the register asks again with the same id
    assert refund_all(queued, number, manager_id, rid) == first
    assert counts() == before
    assert Payment.get(Payment.request_id == rid).note.receipt_no == first
    assert returns.refund_of_request(rid) == first
    # the balance is its ledger, the points taken back once
    assert customers.view(cid).points_balance == sum(
        m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid)) == 0


def test_a_retry_racing_the_first_try_refunds_once(queued, manager_id, monkeypatch):
    """The first try commits while the retry is on its way (its look-up saw nothing yet): the unique
    request id stops the second refund, and the retry answers with the first one's receipt."""
    number = sell(queued, "2*LATT")
    rid = uuid.uuid4().hex
    picks = {returns.find(number).lines[0].line_id: 1}      # one of two: the retry could refund the other
    first = returns.refund(queued, number, picks, "cash", approver_id=manager_id, request_id=rid)
    before = counts()
    seen = []
    real = returns.refund_of_request

    def not_yet(request_id):        # the retry's first look-up, made before the first try committed
        seen.append(request_id)
        return None if len(seen) == 1 else real(request_id)
    monkeypatch.setattr(returns, "refund_of_request", not_yet)
    assert returns.refund(queued, number, picks, "cash", approver_id=manager_id, request_id=rid) == first
    assert counts() == before and len(seen) == 2
    assert returns.find(number).lines[0].returnable_qty == 1


def test_different_refunds_get_different_ids(queued, manager_id):
    number = sell(queued, "2*LATT")
    line = returns.find(number).lines[0].line_id
    a = returns.refund(queued, number, {line: 1}, "cash", approver_id=manager_id, request_id=uuid.uuid4().hex)
    b = returns.refund(queued, number, {line: 1}, "cash", approver_id=manager_id, request_id=uuid.uuid4().hex)
    assert a != b and returns.find(number).lines[0].returnable_qty == 0


# ---------------------------------------------------------------- adjustments


def test_an_adjustment_retried_with_its_request_id_is_written_once(program, manager_id):
    cid = new_customer(points=40)
    rid = uuid.uuid4().hex
    first = loyalty_admin.adjust(cid, 25, "goodwill", manager_id=manager_id, max_points=1000, request_id=rid)
    before = counts()
    again = loyalty_admin.adjust(cid, 25, "goodwill", manager_id=manager_id, max_points=1000, request_id=rid)
    assert again == first and (first.balance_before, first.balance_after) == (40, 65)
    assert counts() == before
    assert customers.view(cid).points_balance == 65
    assert LoyaltyMovement.get(LoyaltyMovement.key == f"adjust:{rid}").points == 25
    # another adjustment (a new id) is another row
    loyalty_admin.adjust(cid, 25, "goodwill", manager_id=manager_id, max_points=1000, request_id=uuid.uuid4().hex)
    assert customers.view(cid).points_balance == 90


def test_an_adjustment_racing_its_retry_is_made_once(program, manager_id, monkeypatch):
    cid = new_customer(points=40)
    rid = uuid.uuid4().hex
    first = loyalty_admin.adjust(cid, 30, "missed scan", manager_id=manager_id, max_points=1000, request_id=rid)
    before = counts()
    seen = []
    real = loyalty.movement_by_key

    def not_yet(key):
        seen.append(key)
        return None if len(seen) == 1 else real(key)
    monkeypatch.setattr(loyalty, "movement_by_key", not_yet)
    again = loyalty_admin.adjust(cid, 30, "missed scan", manager_id=manager_id, max_points=1000, request_id=rid)
    assert again == first and counts() == before and len(seen) == 2
    assert customers.view(cid).points_balance == 70


# ---------------------------------------------------------------- ledger rows, stamp events, print jobs


def test_each_ledger_row_and_stamp_event_has_its_document_key(queued, program, manager_id):
    cid = new_customer(points=400)
    note = queued.open_note()
    queued.add_item(note, "3*ESP")
    queued.add_item(note, "12*LATT")
    queued.attach_customer(note, cid)
    line = queued.offer_lines(note)[0]
    queued.set_offers(note, {line.line_id: 2})
    number = queued.pay(note).receipt_no
    keys = sorted(m.key for m in LoyaltyMovement.select().where(LoyaltyMovement.receipt_no == number))
    assert keys == [f"{number}:earn", f"{number}:offer:ESP"]
    events = sorted(e.key for e in StampEvent.select().where(StampEvent.receipt_no == number))
    assert events == [f"{number}:progress:10th coffee free", f"{number}:reached:10th coffee free"]
    refund = refund_all(queued, number, manager_id, uuid.uuid4().hex)
    keys = sorted(m.key for m in LoyaltyMovement.select().where(LoyaltyMovement.receipt_no == refund))
    assert keys == [f"{refund}:return:earn", f"{refund}:return:offer:ESP"]
    assert [e.key for e in StampEvent.select().where(StampEvent.receipt_no == refund)] == [
        f"{refund}:return:10th coffee free"]
    # the same row written again is refused by the database
    with pytest.raises(IntegrityError):
        loyalty.move(cid, 5, "earn", receipt_no=number, key=loyalty.movement_key(number, "earn"))
    with pytest.raises(IntegrityError), db.atomic():
        StampEvent.create(customer=cid, offer="10th coffee free", kind="progress", units=1, receipt_no=number,
                          key=stamps.event_key(number, "progress", "10th coffee free"))
    assert customers.view(cid).points_balance == sum(
        m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))


def test_two_lines_of_one_product_offered_make_one_ledger_row(queued, program, manager_id):
    """A price changed by hand keeps its own line: both lines' offered units are one row of the product."""
    cid = new_customer(points=600)
    note = queued.open_note()
    first, _ = queued.add_item(note, "2*ESP")
    queued.override_price(note, first.id, 200, approver_id=manager_id)
    queued.add_item(note, "2*ESP")
    queued.attach_customer(note, cid)
    lines = queued.offer_lines(note)
    assert len(lines) == 2
    queued.set_offers(note, {lines[0].line_id: 1, lines[1].line_id: 1})
    number = queued.pay(note).receipt_no
    offers = [(m.key, m.points, m.reason) for m in LoyaltyMovement.select().where(
        LoyaltyMovement.receipt_no == number, LoyaltyMovement.kind == "offer")]
    assert offers == [(f"{number}:offer:ESP", -300, "2 offered")]
    assert customers.view(cid).points_balance == sum(
        m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))


def test_an_original_receipt_is_queued_once_and_copies_any_number_of_times(queued):
    number = sell(queued, "LATT")
    assert PrintJob.get(PrintJob.receipt_no == number).original_of == number
    with pytest.raises(IntegrityError):
        printing.enqueue("R1", number, kick_drawer=True)
    queued.reprint(number)
    queued.reprint(number)
    jobs = list(PrintJob.select().where(PrintJob.receipt_no == number).order_by(PrintJob.id))
    assert [(j.original_of, j.reprint) for j in jobs] == [(number, False), (None, True), (None, True)]


# ---------------------------------------------------------------- migration 18 on an older database


def test_migration_18_keys_old_rows_and_keeps_their_repeats(db_url, caplog):
    """An old database may hold a sale's points written twice and a receipt queued twice as an original.
    Nothing is deleted (a balance is the sum of its ledger): the first row keeps the key, the repeats
    get `#dup<id>`, a repeated original still waiting prints as COPY; each is logged."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as run_ops

    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(db_url)
    database.connect(reuse_if_open=True)
    migrate(database, target=17)
    # the database as it was before migration 18 (tables made from today's models have the columns)
    migrator = SchemaMigrator.from_database(database)
    for table, column in [("loyalty_movement", "key"), ("stamp_event", "key"), ("print_job", "original_of"),
                          ("print_job", "started_at")]:
        for ix in database.get_indexes(table):
            if ix.columns == [column]:
                run_ops(migrator.drop_index(table, ix.name))
        run_ops(migrator.drop_column(table, column))
    p = database.param
    cid = Customer.create(code="C1", name="Ana", points_balance=40, points_earned=25).id
    move = (f"INSERT INTO loyalty_movement (at, customer_id, kind, points, balance_before, balance_after, "
            f"counts_as_earned, receipt_no, product_sku, register, reason) "
            f"VALUES ('2026-01-01', {p}, {p}, {p}, 0, 0, {p}, {p}, {p}, 'R1', {p})")
    for kind, points, receipt, sku, reason in [
            ("earn", 10, "R1-000078", None, ""), ("earn", 10, "R1-000078", None, ""),   # written twice
            ("offer", -5, "R1-000079", "ESP", "1 offered"), ("earn", 5, "R1-000079", None, ""),
            ("return", -3, "R1-000080", None, "earned on returned units of R1-000079"),
            ("return", 5, "R1-000080", "ESP", "offered units of R1-000079"),
            ("adjust", 3, None, None, "goodwill"), ("adjust", 3, None, None, "goodwill")]:
        database.execute_sql(move, (cid, kind, points, kind == "earn", receipt, sku, reason))
    event = (f"INSERT INTO stamp_event (at, customer_id, offer, kind, units, rewards, receipt_no) "
             f"VALUES ('2026-01-01', {p}, 'Coffee', 'progress', 2, 0, {p})")
    for receipt in ("R1-000078", "R1-000078", "R1-000079"):
        database.execute_sql(event, (cid, receipt))
    job = (f"INSERT INTO print_job (register, receipt_no, kind, reprint, kick_drawer, state, attempts, last_error, "
           f"created_at, next_try_at) VALUES ('R1', {p}, 'receipt', {p}, {p}, {p}, 0, '', '2026-01-01', '2026-01-01')")
    for receipt, reprint, state in [("R1-000078", False, "printed"), ("R1-000078", False, "waiting"),
                                    ("R1-000078", True, "waiting"), ("R1-000079", False, "waiting")]:
        database.execute_sql(job, (receipt, reprint, not reprint, state))

    with caplog.at_level("WARNING", logger="tui_pos.migrations"):
        assert migrate(database, target=18) == [18]
    assert migrate(database, target=18) == []
    keys = [m.key for m in LoyaltyMovement.select().order_by(LoyaltyMovement.id)]
    first_earn = LoyaltyMovement.select().order_by(LoyaltyMovement.id).first().id
    assert keys == ["R1-000078:earn", f"R1-000078:earn#dup{first_earn + 1}", "R1-000079:offer:ESP",
                    "R1-000079:earn", "R1-000080:return:earn", "R1-000080:return:offer:ESP", None, None]
    assert [keys[0], keys[2], keys[5]] == [   # the keys today's code writes for the same rows
        loyalty.movement_key("R1-000078", "earn"), loyalty.movement_key("R1-000079", "offer", "ESP"),
        loyalty.movement_key("R1-000080", "return", "offer:ESP")]
    assert LoyaltyMovement.select().count() == 8      # nothing deleted: the ledger still sums to what it did
    events = [e.key for e in StampEvent.select().order_by(StampEvent.id)]
    assert events[0] == stamps.event_key("R1-000078", "progress", "Coffee") and "#dup" in events[1]
    jobs = [(j.original_of, j.reprint, j.kick_drawer, j.state) for j in PrintJob.select().order_by(PrintJob.id)]
    assert jobs == [("R1-000078", False, True, "printed"),
                    (None, True, False, "waiting"),            # a repeated original, still waiting: a COPY
                    (None, True, False, "waiting"),
                    ("R1-000079", False, True, "waiting")]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "1 loyalty movements repeat" in warned and "1 stamp events repeat" in warned
    assert "1 print jobs repeat" in warned
    from tui_pos.services.health import _repeated_ledger_rows  # doctor says so until a manager corrects them
    [check] = _repeated_ledger_rows()
    assert check.level == "WARN" and "1 loyalty movements and 1 stamp events repeat" in check.detail
    # from now on the keys hold
    with pytest.raises(IntegrityError):
        with database.atomic():
            LoyaltyMovement.create(customer=cid, kind="earn", points=1, balance_before=0, balance_after=1,
                                   receipt_no="R1-000078", key="R1-000078:earn")
    database.close()
