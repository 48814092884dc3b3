"""`import customers` and `export customers` in bulk (issue 23), on SQLite and PostgreSQL: 20,000 rows in one
transaction, every balance its ledger, all-or-nothing to the last line, merges with --update, an export that
reads back, and progress told."""

import csv
import io
import json

import pytest

from tui_pos.domain import customer as rules
from tui_pos.domain.text import csv_cell
from tui_pos.models import AuditLog, ConsentEvent, Customer, CustomerWord, LoyaltyCard, LoyaltyMovement
from tui_pos.services import customers, loyalty
from tui_pos.services.catalog import ImportError_

R = "PA"
N = 20_000
HEADER = ",".join(customers.CSV_COLUMNS) + ",sms_consent\n"


def row(i: int, *, code: str = "K", name: str = "", card: str = "LOY", points: int | None = None) -> str:
    points = i % 500 + 1 if points is None else points
    return (f"{code}{i:06d},{name or f'Ana Pérez {i}'},+507 6{i:07d},,c{i}@example.com,,,,,"
            f"{'VIP' if i % 10 == 0 else ''},,{card}-{i:06d},0,open,{1950 + i % 50}-{1 + i % 12:02d}-01,{points},"
            f"{'yes' if i % 3 == 0 else ''}\n")


def write(tmp_path, lines, name="customers.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def bulk_import(path, **kw):
    return customers.import_customers(path, region=R, opening_balances=loyalty.opening_balances, **kw)


def state():
    """Everything an import writes, to tell that a second one changed nothing."""
    return (list(Customer.select().order_by(Customer.id).tuples()),
            list(LoyaltyCard.select(LoyaltyCard.code, LoyaltyCard.customer).order_by(LoyaltyCard.id).tuples()),
            CustomerWord.select().count(), LoyaltyMovement.select().count(), ConsentEvent.select().count())


@pytest.fixture
def vip(database):
    customers.set_group("VIP", 500)
    return database


def test_twenty_thousand_rows_with_opening_points_and_every_balance_is_its_ledger(vip, tmp_path):
    path = write(tmp_path, [row(i) for i in range(N)])
    assert bulk_import(path) == (N, 0, 0)
    assert Customer.select().count() == N and LoyaltyCard.select().count() == N
    assert loyalty.ledger_mismatches() == []
    assert LoyaltyMovement.select().count() == N
    assert sum(c.points_balance for c in Customer.select(Customer.points_balance)) == sum(i % 500 + 1 for i in range(N))
    c = customers.lookup("K012340", region=R).customers[0]
    assert (c.name, c.phone, c.email, c.cards, c.groups, c.birthday.isoformat(), c.points_balance, c.points_earned) == (
        "Ana Pérez 12340", "+50760012340", "c12340@example.com", ("LOY-012340",), ("VIP",), "1990-05-01", 341, 341)
    assert Customer.get(Customer.code == "K012340").phone_rev == rules.national_reversed("+50760012340")
    assert customers.lookup("6001-2341", region=R).customers[0].code == "K012341"      # by phone
    assert [v.code for v in customers.lookup("perez 12342", region=R).customers] == ["K012342"]   # by name word
    assert ConsentEvent.select().count() == len(range(0, N, 3))                       # sms_consent yes
    assert json.loads(AuditLog.select().order_by(AuditLog.id.desc()).first().detail)["created"] == N
    before = state()
    assert bulk_import(path) == (0, 0, N)                    # a re-import changes nothing
    assert bulk_import(path, update=True) == (0, 0, N)
    assert state() == before and loyalty.ledger_mismatches() == []


@pytest.mark.parametrize("last,where,message", [
    ("K999999,Bad,+507 12,,,,,,,,,,0,open,,5,\n", "3 (phone)", "'+507 12' cannot be a phone number in PA"),
    # refused once every row has been read (the rows of one customer grouped): the card of the first row
    ("K999999,Bad,,,,,,,,,,LOY-000000,0,open,,5,\n", "12 (card)", "card LOY-000000 is also on line 2"),
])
def test_an_error_on_the_last_line_writes_nothing_and_names_file_line_and_column(vip, tmp_path, last, where,
                                                                                  message):
    path = write(tmp_path, [row(i) for i in range(N)] + [last])
    with pytest.raises(ImportError_) as err:
        bulk_import(path)
    assert str(err.value).startswith(f"{path}:{N + 2}:{where}: ") and message in str(err.value)
    assert (Customer.select().count(), LoyaltyCard.select().count(), LoyaltyMovement.select().count(),
            ConsentEvent.select().count(), CustomerWord.select().count()) == (0, 0, 0, 0, 0)


def test_a_card_of_a_customer_in_the_database_is_refused_without_update_on_the_last_line(vip, tmp_path):
    bulk_import(write(tmp_path, [row(i) for i in range(10)], "first.csv"))
    before = state()
    path = write(tmp_path, [row(i, code="N") for i in range(10, N)] + [row(7, code="N", card="LOY")])
    with pytest.raises(ImportError_) as err:
        bulk_import(path)
    assert str(err.value).startswith(f"{path}:{N - 10 + 2}:3 (phone): phone +50760000007 belongs to customer "
                                     "K000007 (Ana Pérez 7); a row of another code does not change them")
    assert state() == before


def test_update_merges_in_bulk(vip, tmp_path):
    n = 2_000
    assert bulk_import(write(tmp_path, [row(i) for i in range(n)], "first.csv")) == (n, 0, 0)
    balances = dict(Customer.select(Customer.code, Customer.points_balance).tuples())
    # the same phones under other codes, with another name and a second card each
    again = write(tmp_path, [row(i, code="N", name=f"Ana María {i}", card="NEW", points=70) for i in range(n)])
    with pytest.raises(ImportError_, match=r":2:3 \(phone\): phone \+50760000000 belongs to customer K000000"):
        bulk_import(again)
    assert bulk_import(again, update=True) == (0, n, 0)
    assert Customer.select().count() == n
    c = customers.lookup("K001230", region=R).customers[0]
    assert (c.name, c.cards, c.email, c.groups) == ("Ana María 1230", ("LOY-001230", "NEW-001230"),
                                                   "c1230@example.com", ("VIP",))
    assert dict(Customer.select(Customer.code, Customer.points_balance).tuples()) == balances   # no points merged in
    assert loyalty.ledger_mismatches() == []
    assert [v.code for v in customers.lookup("maria 1230", region=R).customers] == ["K001230"]   # words rewritten
    assert not customers.lookup("perez 1230", region=R).customers
    detail = json.loads(AuditLog.select().order_by(AuditLog.id.desc()).first().detail)
    assert detail["updated"] == n and detail["merged"][0] == "line 2 (N000000) into K000000"
    assert detail["points_not_added"][-1] == f"... and {n - 50} more"
    before = state()
    assert bulk_import(again, update=True) == (0, 0, n)     # merged once: the second time nothing changes
    assert state() == before


def test_phones_that_move_between_customers_in_one_file(vip, tmp_path):
    """A1 gives up its phone to B1, whose phone a third row (A1's card) then gives to A1: each row sees what the
    rows before it did, and the writes in the end do not trip over the unique phone."""
    bulk_import(write(tmp_path, ["A1,Ana,6123-4567,,,,,,,,,CA,0,open,,,\n", "B1,Bob,6123-4568,,,,,,,,,,0,open,,,\n"],
                      "first.csv"))
    moves = write(tmp_path, ["A1,,6123-4569,,,,,,,,,,,,,,\n", "B1,,6123-4567,,,,,,,,,,,,,,\n",
                             ",,6123-4568,,,,,,,,,CA,,,,,\n"])
    assert bulk_import(moves, update=True) == (0, 3, 0)
    assert [(c.code, c.phone) for c in Customer.select().order_by(Customer.code)] == [
        ("A1", "+50761234568"), ("B1", "+50761234567")]


def old_export() -> str:
    """The export as it was written one customer at a time (a view each), to compare with."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(customers.CSV_COLUMNS)
    for (cid,) in Customer.select(Customer.id).order_by(Customer.code).tuples():
        c = customers.view(cid)
        writer.writerow([csv_cell(v) for v in (
            c.code, c.name, c.phone, c.mobile, c.email, c.ruc, c.dv, c.ruc_type, c.fiscal_name, "|".join(c.groups),
            c.rate, "|".join(c.cards), c.payment_status, c.status, c.birthday.isoformat() if c.birthday else "",
            c.points_balance)])
    return out.getvalue()


def test_the_export_streams_the_import_format_and_reads_back(vip, tmp_path):
    n = 3_000
    customers.create({"code": "Z1", "name": "=HYPERLINK(x)", "phone": "6555-0001", "ruc": "8-274-125", "dv": "91",
                      "ruc_type": "individual", "fiscal_name": "Zeta SA", "cards": "Z-1 Z-2", "groups": "VIP"},
                     region=R)
    bulk_import(write(tmp_path, [row(i) for i in range(n)]))
    out = io.StringIO()
    assert customers.export_customers(out) == n + 1
    text = out.getvalue()
    assert text == old_export()
    assert "Z1,'=HYPERLINK(x),+50765550001,,,8-274-125,91,individual,Zeta SA,VIP,,Z-1|Z-2,0,open,,0" in text
    exported = tmp_path / "exported.csv"
    exported.write_text(text, encoding="utf-8")
    before = state()
    assert bulk_import(exported) == (0, 0, n + 1)
    assert state() == before


def test_progress_is_told_while_importing_and_exporting(vip, tmp_path):
    calls = []
    path = write(tmp_path, [row(i) for i in range(N)])
    customers.import_customers(path, region=R, progress=lambda done, total, what: calls.append((done, total, what)))
    whats = [w for _, _, w in calls]
    assert "checking the file" in whats and "matching customers" in whats and "writing customers" in whats
    assert calls[-1] == (N, N, "written")
    assert all(0 <= done <= total for done, total, _ in calls if total)
    told = []
    customers.export_customers(io.StringIO(), progress=lambda done, total, what: told.append((done, total)))
    assert told and told[-1] == (N, N)


@pytest.mark.parametrize("phone", ["+50761234567", "+390612345678", "+12025550143", "+447911123456",
                                   "+5491123456789", "+8613800138000", "+35312345678"])
def test_the_reversed_national_digits_are_the_rules(phone):
    assert customers._national_reversed(phone) == rules.national_reversed(phone)


def test_a_ruc_two_customers_already_share_is_refused_naming_the_other(vip, tmp_path):
    """A RUC is not unique in the database (an older import, a migration): a row of one of them giving it is
    refused naming the other, as a customer at a time did."""
    a = customers.create({"code": "A1", "name": "Ana", "ruc": "8-274-125", "dv": "91"}, region=R)
    b = customers.create({"code": "B1", "name": "Bob"}, region=R)
    Customer.update(ruc="8-274-125", dv="91").where(Customer.id == b.id).execute()
    path = write(tmp_path, ["A1,Ana María,,,,8-274-125,91,,,,,,,,,,\n"])
    with pytest.raises(ImportError_, match=r":2:6 \(ruc\): already belongs to Bob \(B1\)"):
        bulk_import(path)
    assert customers.view(a.id).name == "Ana"
