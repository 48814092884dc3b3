"""Two registers (two processes, one SQLite file) spending the same points at once."""

import subprocess
import sys
import textwrap
import time

from tui_pos.models import Customer, LoyaltyMovement, db
from tui_pos.models.db import bind
from tui_pos.models.migrations import migrate

WORKER = textwrap.dedent('''
    import sys, time
    from tui_pos.models.db import bind
    from tui_pos.services.sales import SaleService
    from tui_pos.services.loyalty import BalanceChanged
    bind(sys.argv[1])
    sales = SaleService(sys.argv[2])
    note = int(sys.argv[3])
    start = float(sys.argv[4])
    while time.time() < start:
        time.sleep(0.001)
    try:
        result = sales.pay(note)
        print("paid" if result.completed else "open")
    except BalanceChanged as exc:
        print("changed")
''')


def test_only_one_register_can_spend_the_points(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    database = bind(url)
    migrate(database)
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo
    from tui_pos.services.sales import SaleService
    seed_demo()
    c = customers.lookup("C-ANA", region="PA").customers[0]
    Customer.update(points_balance=0).where(Customer.id == c.id).execute()
    LoyaltyMovement.delete().execute()
    loyalty.opening_balance(c.id, 500)
    notes = []
    for register in ("R1", "R2"):
        sales = SaleService(register)
        note = sales.open_note()
        sales.add_item(note, "MUG")
        sales.attach_customer(note, c.id)
        sales.redeem(note, 500)
        notes.append((register, note))
    db.close()
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, reg, str(note), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for reg, note in notes]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["changed", "paid"], [p.stderr for p in procs]
    database = bind(url)
    balance = Customer.get_by_id(c.id).points_balance
    assert balance >= 0
    assert balance == sum(m.points for m in LoyaltyMovement.select().where(LoyaltyMovement.customer == c.id))
    assert LoyaltyMovement.select().where(LoyaltyMovement.kind == "redeem").count() == 1
    db.close()
