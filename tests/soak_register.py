"""One register of the offline soak (tests/service/test_offline_soak.py), run as its own process.

`python tests/soak_register.py URL REGISTER REPLICA COUNT SEED OUT`: COUNT mixed actions (sales with and
without a customer, redemptions, returns of its own receipts) through the services, on the server while it
answers and on the register's replica while it does not, switching the way the app does (docs/offline.md):
a call that finds the server gone moves the register to its replica and the action starts again there; every
few actions offline it looks for the server, and when it answers sends the journal and goes back online. A
payment whose answer was lost is asked again with the same request id once the server answers (the payment
screen's rule), never made again offline. Writes what it completed to OUT as JSON lines.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_pos.domain.errors import InputError, PosError
from tui_pos.models import Customer, db
from tui_pos.models.db import bind, is_connection_error
from tui_pos.services import returns
from tui_pos.services.offline import Offline, Settings
from tui_pos.services.sales import SaleService

SKUS = ["ESP", "CAPP", "LATT", "CROI", "BEAN1", "MUFB", "OJ", "COLA"]


class Lost(Exception):
    """The server went away in the middle of an action."""


def main() -> int:
    url, register, replica_path, count, seed, out = sys.argv[1:7]
    rng = random.Random(int(seed))
    server = bind(url)
    sales = SaleService(register, tenders=["cash", "card"])
    offline = Offline(Settings(True, replica_path, 300, 5), register, server)
    sales.offline = offline
    while True:        # a register with no replica yet cannot sell without its server: it waits for it
        try:
            _ = sales.register_id
            offline.build()
            customers = [c.id for c in Customer.select(Customer.id).order_by(Customer.id)]
            break
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            if not db.is_closed():
                db.close()
            time.sleep(0.2)
    done: list[dict] = []
    mine: dict[str, list[str]] = {"online": [], "offline": []}   # own sale receipts, where they can be returned
    since_probe = 0
    with open(out, "w", encoding="utf-8") as sink:
        def record(row: dict) -> None:
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            done.append(row)

        for _ in range(int(count)):
            if offline.active:
                since_probe += 1
                if since_probe >= 10:
                    since_probe = 0
                    back_online(offline, server)
            action = rng.random()
            while True:
                try:
                    if action < 0.15 and mine["offline" if offline.active else "online"]:
                        record(do_return(sales, rng, mine["offline" if offline.active else "online"]))
                    else:
                        row = do_sale(sales, rng, customers, server)
                        record(row)
                        mine["offline" if row["offline"] else "online"].append(row["receipt"])
                    break
                except Lost:
                    if not offline.active:
                        offline.go_offline()
                        mine["offline"] = []
    while offline.active or offline.state().pending:
        back_online(offline, server)
        time.sleep(0.2)
    offline.cycle()
    return 0


def reachable(server) -> bool:
    try:
        with db.routed(server, fresh=True):
            db.execute_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - still away
        return False


def back_online(offline: Offline, server) -> None:
    """The app's probe, sync and switch back, in one go."""
    if not reachable(server):
        return
    try:
        offline.sync()
        if offline.active:
            offline.go_online()
        offline.cycle()
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        if not offline.active:
            offline.go_offline()


def call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if is_connection_error(exc):
            db.obj.close() if not db.is_closed() else None
            raise Lost() from exc
        raise


def do_sale(sales: SaleService, rng: random.Random, customers: list[int], server) -> dict:
    offline = sales.selling_offline
    note = call(sales.open_note, None)
    for _ in range(rng.randint(1, 3)):
        call(sales.scan, note, rng.choice(SKUS))
    customer = None
    if rng.random() < 0.5:
        customer = rng.choice(customers)
        call(sales.attach_customer, note, customer)
        if rng.random() < 0.4:
            try:
                call(sales.redeem, note, 100)
            except InputError:
                pass              # not enough points (or past the offline cap): no money off
    request = uuid.uuid4().hex
    try:
        try:
            result = call(sales.pay, note, request_id=request)
        except PosError:
            # another register spent those points first (online, the guarded UPDATE says so): no money off
            call(sales.redeem, note, 0)
            result = call(sales.pay, note, request_id=request)
    except Lost:
        if offline:
            raise
        # whether it was taken cannot be known: asked again, with the same id, once the server answers
        while True:
            while not reachable(server):
                time.sleep(0.1)
            try:
                result = call(sales.pay, note, request_id=request)
                break
            except Lost:
                continue
    assert result.completed
    return {"kind": "sale", "receipt": result.receipt_no, "customer": customer, "offline": offline}


def do_return(sales: SaleService, rng: random.Random, receipts: list[str]) -> dict:
    offline = sales.selling_offline
    receipt = rng.choice(receipts)
    found = call(returns.find, receipt)
    line = next((ln for ln in found.lines if ln.returnable_qty > 0), None)
    if line is None:
        return {"kind": "none", "receipt": receipt, "offline": offline}
    request = uuid.uuid4().hex
    try:
        number = call(returns.refund, sales, receipt, {line.line_id: 1}, request_id=request)
    except PosError:
        return {"kind": "none", "receipt": receipt, "offline": offline}
    return {"kind": "return", "receipt": number, "of": receipt, "offline": offline}


if __name__ == "__main__":
    sys.exit(main())
