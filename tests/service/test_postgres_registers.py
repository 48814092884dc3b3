"""Eight register processes earning and redeeming against the same customers on one PostgreSQL."""

import json
import subprocess
import sys
import textwrap
import time

import pytest

from tui_pos.models import Customer, LoyaltyMovement, Note, db
from tui_pos.models.db import bind
from tui_pos.models.migrations import migrate

pytestmark = pytest.mark.postgres

WORKER = textwrap.dedent('''
    import json, sys, time
    from tui_pos.domain.errors import InputError
    from tui_pos.models.db import bind
    from tui_pos.services.loyalty import BalanceChanged
    from tui_pos.services.sales import SaleService
    url, register, start, sales_count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    customers = [int(c) for c in sys.argv[5].split(",")]
    bind(url)
    sales = SaleService(register)
    done = {"paid": 0, "redeemed": 0, "refused": 0, "receipts": []}
    while time.time() < start:
        time.sleep(0.001)
    for i in range(sales_count):
        note = sales.open_note()
        sales.add_item(note, "2*CAPP" if i % 3 else "MUG")
        sales.attach_customer(note, customers[(i + int(register[1:])) % len(customers)])
        wanted = 0
        if i % 2 == 0:
            try:
                wanted = sales.redeem(note, 100).totals.redeemed_cents and 100
            except InputError:
                wanted = 0
        try:
            result = sales.pay(note)
        except BalanceChanged:
            done["refused"] += 1          # another register spent the points first
            sales.redeem(note, 0)
            wanted = 0
            result = sales.pay(note)
        done["paid"] += result.completed
        done["redeemed"] += wanted
        done["receipts"].append(result.receipt_no)
    print(json.dumps(done))
''')


def test_eight_registers_keep_every_balance_equal_to_its_ledger(pg_schema_url):
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo
    database = bind(pg_schema_url)
    migrate(database)
    seed_demo()
    ids = []
    for n in range(4):
        c = customers.create_with_phone(f"6200-000{n}", region="PA")
        loyalty.opening_balance(c.id, 300)
        ids.append(c.id)
    before = {i: Customer.get_by_id(i).points_balance for i in ids}
    db.close()
    per_register = 25
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, pg_schema_url, f"R{r}", str(start), str(per_register),
                               ",".join(map(str, ids))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(1, 9)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-6000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    bind(pg_schema_url)
    assert sum(r["paid"] for r in results) == 8 * per_register
    for cid in ids:
        balance = Customer.get_by_id(cid).points_balance
        ledger = sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == cid))
        assert balance == ledger >= 0, cid
    redeemed = -sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.kind == "redeem",
                                                                       LoyaltyMovement.customer.in_(ids)))
    assert redeemed == sum(r["redeemed"] for r in results) > 0
    earned = sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.kind == "earn",
                                                                    LoyaltyMovement.customer.in_(ids)))
    assert sum(Customer.get_by_id(i).points_balance - before[i] for i in ids) == earned - redeemed
    # every register's receipt numbers run 1..n without a gap or a double
    for r, result in enumerate(results, start=1):
        assert result["receipts"] == [f"R{r}-{n:06d}" for n in range(1, per_register + 1)]
        seqs = [n.seq for n in Note.select().join_from(Note, Note.register.rel_model)
                .where(Note.register.rel_model.code == f"R{r}", Note.status == "paid").order_by(Note.seq)]
        assert seqs == list(range(1, per_register + 1))
    print("refused redemptions:", sum(r["refused"] for r in results))
    db.close()
