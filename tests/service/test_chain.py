"""A chain of stores on one database (issue 24 item 4): customers and points chain-wide (earn in store A,
redeem in store B), one catalog with per-store prices, reports per store and for the chain, and each
register's replica holding its own store's prices and the chain's customers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tui_pos.models import Customer
from tui_pos.services import chain, prices
from tui_pos.services.offline import Offline, Settings, replica
from tui_pos.services.sales import SaleService


@pytest.fixture
def stores(database):
    from tui_pos.services.demo import seed_demo
    seed_demo(with_loyalty=True)
    a = SaleService("A1", point_of_sale="A", store_name="Store A")
    b = SaleService("B1", point_of_sale="B", store_name="Store B")
    _ = a.register_id, b.register_id
    return a, b


def sale(sales: SaleService, sku: str, customer: int | None = None, redeem: int | None = None) -> tuple[str, int]:
    note = sales.open_note(None)
    line = sales.scan(note, sku).line
    if customer is not None:
        sales.attach_customer(note, customer)
    if redeem:
        sales.redeem(note, redeem)
    result = sales.pay(note)
    return result.receipt_no, line.unit_price_cents


def test_one_catalog_with_a_price_per_store(stores):
    a, b = stores
    said = prices.set_store_price("esp", "B", "1.75")
    assert said == "ESP in store B at 1.75 (retail 1.50)"
    assert sale(a, "ESP")[1] == 150 and sale(b, "ESP")[1] == 175
    prices.set_store_price("ESP", "B", None)
    assert sale(b, "ESP")[1] == 150
    with pytest.raises(Exception, match="No store 'Z'"):
        prices.set_store_price("ESP", "Z", "1.00")


def test_points_earned_in_one_store_are_spent_in_another_and_each_store_reports(stores):
    a, b = stores
    ana = Customer.get(Customer.code == "C-ANA").id
    before = Customer.get_by_id(ana).points_balance
    sale(a, "BEAN1", ana)                                     # earns in store A
    earned = Customer.get_by_id(ana).points_balance - before
    assert earned > 0
    sale(b, "BEAN1", ana, redeem=before + earned - (before + earned) % 100)   # spends it all in store B
    rows = {r.store: r for r in chain.store_sales()}
    assert rows["A"].sales == 1 and rows["B"].sales == 1 and rows["A"].points_earned == earned
    assert rows["B"].points_used == before + earned - (before + earned) % 100
    assert rows["*"].sales == 2 and rows["*"].customers == 1
    assert rows["*"].net_cents == rows["A"].net_cents + rows["B"].net_cents


@pytest.mark.postgres
def test_each_replica_holds_its_store_prices_and_the_chains_customers(pg_schema_url, tmp_path):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    server = bind(pg_schema_url)
    migrate(server)
    seed_demo(with_loyalty=True)
    for code, store in (("A1", "A"), ("B1", "B")):
        _ = SaleService(code, point_of_sale=store).register_id
    prices.set_store_price("ESP", "A", "1.40")
    prices.set_store_price("ESP", "B", "1.75")
    counts = {}
    for code in ("A1", "B1"):
        offline = Offline(Settings(True, str(tmp_path / f"{code}.sqlite"), 500, 20), code, server)
        offline.build()
        conn = replica.connect(offline.path)
        counts[code] = (conn.execute("SELECT price_cents FROM store_price").fetchall(),
                        conn.execute("SELECT count(*) FROM customer").fetchone()[0])
        conn.close()
    assert [tuple(r) for r in counts["A1"][0]] == [(140,)] and [tuple(r) for r in counts["B1"][0]] == [(175,)]
    assert counts["A1"][1] == counts["B1"][1] == Customer.select().count()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "{pg_schema_url}"\n', encoding="utf-8")
    env = dict(os.environ, TUI_POS_CONFIG=str(cfg))
    listed = subprocess.run([sys.executable, "-m", "tui_pos", "store-price"], capture_output=True, text=True, env=env)
    assert "ESP" in listed.stdout and "1.75" in listed.stdout and "2 store prices" in listed.stdout
    report = subprocess.run([sys.executable, "-m", "tui_pos", "report", "stores"], capture_output=True, text=True,
                            env=env)
    assert report.returncode == 0 and "CHAIN" in report.stdout, report.stderr
