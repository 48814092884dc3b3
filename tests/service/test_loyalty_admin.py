"""Loyalty management on a real database: settings, adjustments, the account, the report, statistics."""

import datetime as dt

import pytest

from tui_pos.domain.errors import InputError
from tui_pos.domain.loyalty import ProgramError
from tui_pos.models import AuditLog, Customer, LoyaltyMonth, LoyaltyMovement
from tui_pos.services import customers, loyalty, loyalty_admin
from tui_pos.services.demo import DEMO_PROGRAM
from tui_pos.services.sales import SaleService


@pytest.fixture
def program(demo):
    from tui_pos.domain.loyalty import parse_program, program_to_toml
    return loyalty_admin.save_program_text(program_to_toml(parse_program(DEMO_PROGRAM)))


def make_customer(phone, points=0, earned_extra=0):
    c = customers.create_with_phone(phone, region="PA")
    if points:
        loyalty.opening_balance(c.id, points)
    return c


def test_settings_are_checked_like_the_file_and_audited(program, manager_id):
    text = loyalty_admin.program_text()
    assert 'name = "Silver"' in text and "threshold = 500" in text
    changed = text.replace('points = 100\nvalue = "1.00"', 'points = 100\nvalue = "2.00"')
    prog = loyalty_admin.save_program_text(changed, user_id=manager_id, register="R1")
    assert prog.redeem_value_cents == 200 and loyalty.program().redeem_value_cents == 200
    entry = AuditLog.select().where(AuditLog.action == "loyalty.settings").order_by(AuditLog.id.desc()).first()
    assert entry.user_id == manager_id and "redeem_value_cents" in entry.detail
    for bad, fragment in [
        (changed.replace('value = "2.00"', 'value = "0"', 1), "redemption.value = '0': expected an amount above 0"),
        (changed.replace("threshold = 2000", "threshold = 400"), "tiers[2].threshold = 400: below the previous"),
        (changed.replace("[program]", "[program"), "not valid TOML"),
        ("  \n", "the program is empty"),
    ]:
        with pytest.raises(ProgramError, match=fragment.replace("[", r"\[")):
            loyalty_admin.save_program_text(bad, user_id=manager_id)
    assert loyalty.program().redeem_value_cents == 200   # nothing saved by the refused edits


def test_a_settings_change_reaches_another_process_on_the_next_note(program, db_url):
    import subprocess
    import sys
    text = loyalty_admin.program_text().replace("earn_points = 1\n", "earn_points = 3\n", 1)
    script = ("import sys\nfrom tui_pos.models.db import bind\nfrom tui_pos.services import loyalty_admin\n"
              "bind(sys.argv[1])\nloyalty_admin.save_program_text(sys.stdin.read())\n")
    out = subprocess.run([sys.executable, "-c", script, db_url], input=text, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    ana = make_customer("6111-0001")
    sales = SaleService("R1")
    note = sales.open_note()
    sales.add_item(note, "BAGU")          # 1.80, not Coffee: 3 points per 1.00 now, + 5 per visit
    sales.attach_customer(note, ana.id)
    sales.pay(note)
    assert Customer.get_by_id(ana.id).points_balance == 10   # floor(3 x 1.80 + 5); the old rule gave 6


def test_adjustments_need_a_reason_stay_within_the_limit_and_are_audited(program, manager_id):
    c = make_customer("6111-0002", points=100)
    with pytest.raises(InputError, match="Give a reason"):
        loyalty_admin.adjust(c.id, 50, "  ", manager_id=manager_id, max_points=1000)
    with pytest.raises(InputError, match="max_adjustment = 1000"):
        loyalty_admin.adjust(c.id, 1001, "goodwill", manager_id=manager_id, max_points=1000)
    with pytest.raises(InputError, match="below zero"):
        loyalty_admin.adjust(c.id, -101, "mistake", manager_id=manager_id, max_points=1000)
    moved = loyalty_admin.adjust(c.id, -40, "double scan last week", manager_id=manager_id, max_points=1000,
                                 register="R1")
    assert (moved.balance_before, moved.balance_after) == (100, 60)
    last = LoyaltyMovement.select().order_by(LoyaltyMovement.id.desc()).first()
    assert (last.kind, last.points, last.reason, last.user_id) == ("adjust", -40, "double scan last week", manager_id)
    entry = AuditLog.select().where(AuditLog.action == "loyalty.adjust").get()
    assert entry.approved_by_id == manager_id and '"points": -40' in entry.detail
    assert loyalty.ledger_mismatches() == []


def test_account_tier_next_tier_and_ledger_pages(program):
    c = make_customer("6111-0003", points=450)
    sales = SaleService("R1")
    for _ in range(3):
        note = sales.open_note()
        sales.add_item(note, "CAPP")
        sales.attach_customer(note, c.id)
        sales.pay(note)
    acc = loyalty_admin.account(c.id)
    assert acc.tier == "Bronze" and acc.next_tier == "Silver" and acc.balance == acc.earned
    assert acc.next_needs == 500 - acc.earned > 0
    rows, pages = loyalty_admin.ledger_page(c.id, 0, per_page=2)
    assert pages == 2 and [r.kind for r in rows] == ["earn", "earn"]
    assert rows[0].receipt_no == "R1-000003" and rows[0].after == acc.balance
    assert rows[0].before + rows[0].points == rows[0].after
    last_page, _ = loyalty_admin.ledger_page(c.id, 5, per_page=2)   # beyond the end: the last page
    assert [r.kind for r in last_page] == ["earn", "adjust"]


def test_report_by_period_tier_and_group(program, manager_id):
    a = make_customer("6111-0004", points=600)    # Silver
    b = make_customer("6111-0005", points=50)     # Bronze
    customers.update(b.id, {"groups": "VIP"}, region="PA", approver_id=manager_id)
    assert [r[0] for r in loyalty_admin.report(group="vip")] == [b.code]
    rows = loyalty_admin.report()
    assert [r[0] for r in rows] == sorted([a.code, b.code])
    assert loyalty_admin.report(tier="silver")[0][0] == a.code and len(loyalty_admin.report(tier="Silver")) == 1
    today = dt.date.today().isoformat()
    assert {r[0] for r in loyalty_admin.report(date_from=today, date_to=today)} == {a.code, b.code}
    assert loyalty_admin.report(date_from="2001-01-01", date_to="2001-12-31") == []
    with pytest.raises(InputError, match="before --from"):
        loyalty_admin.report(date_from="2026-02-01", date_to="2026-01-01")
    with pytest.raises(InputError, match="expected a date"):
        loyalty_admin.report(date_from="yesterday")
    with pytest.raises(InputError, match="No tier 'Diamond'"):
        loyalty_admin.report(tier="Diamond")


def test_statistics_with_known_answers(program):
    a = make_customer("6111-0006", points=2500)   # Gold
    b = make_customer("6111-0007", points=600)    # Silver
    make_customer("6111-0008")                    # no points: not enrolled
    sales = SaleService("R1")
    note = sales.open_note()
    sales.add_item(note, "MUG")                   # 8.99
    sales.attach_customer(note, b.id)
    sales.redeem(note, 500)                       # 5.00 off
    sales.pay(note)
    stats = loyalty_admin.statistics(months=3)
    assert stats.customers == 3 and stats.enrolled == 2
    assert dict(stats.by_tier) == {"Bronze": 1, "Silver": 1, "Gold": 1, "Platinum": 0}
    this_month = dt.date.today().strftime("%Y-%m")
    earned_now = (LoyaltyMovement.select().where(LoyaltyMovement.kind == "earn").get().points)
    assert stats.months[-1] == (this_month, 2500 + 600 + earned_now, 500) and len(stats.months) == 3
    assert stats.months[0][1:] == (0, 0)
    assert stats.most_active[0][:2] == (a.code, a.name) and stats.most_active[1][2] == 1   # b: one visit
    balance_b = Customer.get_by_id(b.id).points_balance
    assert stats.outstanding_points == 2500 + balance_b and stats.liability_cents == stats.outstanding_points
    # the monthly totals are kept with the ledger
    assert sum(m.points for m in LoyaltyMonth.select()) == sum(m.points for m in LoyaltyMovement.select())


def test_monthly_totals_move_to_one_row_per_register_on_upgrade(db_url, monkeypatch):
    """Migration 13: a database with one row per month and kind keeps its totals, now sharded by register."""
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import audit, loyalty_admin
    monkeypatch.setattr(audit, "record", lambda *a, **k: None)   # a schema before 17 has no chained log to write
    database = bind(db_url)
    migrate(database, target=12)
    database.execute_sql("DROP INDEX loyalty_month_month_kind_shard")
    database.execute_sql("ALTER TABLE loyalty_month DROP COLUMN shard")
    database.execute_sql("CREATE UNIQUE INDEX loyalty_month_month_kind ON loyalty_month (month, kind)")
    database.execute_sql("INSERT INTO loyalty_month (month, kind, points, movements) VALUES ('2026-11', 'earn', 5, 1)")
    assert migrate(database, target=13) == [13]
    c = customers.create({"name": "Ana"}, region="PA")
    loyalty.move(c.id, 7, "earn", counts_as_earned=True, register="R1")
    loyalty.move(c.id, 3, "earn", counts_as_earned=True, register="R2")
    month = LoyaltyMovement.select().first().at.strftime("%Y-%m")
    rows = {(m.month, m.shard): m.points for m in LoyaltyMonth.select().where(LoyaltyMonth.kind == "earn")}
    assert rows[("2026-11", "")] == 5 and rows[(month, "R1")] == 7 and rows[(month, "R2")] == 3
    import datetime as dt
    stats = loyalty_admin.statistics(today=dt.date(int(month[:4]), int(month[5:]), 15))
    assert {m: i for m, i, _ in stats.months}[month] == 10 + (5 if month == "2026-11" else 0)
    database.close()
