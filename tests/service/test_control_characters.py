"""Control characters never reach the printer, the screen or the database (issue 28, items 6 and 11).

`ESC p` is the ESC/POS cash drawer's pulse; `ESC [ 2 J` clears a terminal. A product or customer name
holding them was stored as is, printed raw and drawn raw.
"""

import pytest

from tui_pos.domain.receipt import Row
from tui_pos.domain.text import control_at, printable
from tui_pos.hardware.printer import render
from tui_pos.models import Customer, Product
from tui_pos.services import catalog, customers
from tui_pos.services.catalog import ImportError_
from tui_pos.services.customers import FormError

NASTY = "Fu\x1b[2J\x1bp\x00\x30\x60ll"


def test_the_rule():
    assert control_at("Café Núñez") is None and control_at("a\tb") == 2 and control_at("x\x85") == 2
    assert printable(NASTY) == "Fu?[2J?p?0`ll"


def test_an_import_refuses_control_characters_naming_line_and_column(demo, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n"
                    ",OK1,Fine,Coffee,1.00,7,,\n"
                    f",BAD,{NASTY},Coffee,1.00,7,,\n", encoding="utf-8")
    with pytest.raises(ImportError_) as err:
        catalog.import_products(path)
    assert "p.csv:3:3 (name): a control character (code 27) at character 3" in str(err.value)
    assert not Product.select().where(Product.sku.in_(["OK1", "BAD"])).exists()       # nothing written


def test_the_customer_form_refuses_them(demo):
    with pytest.raises(FormError) as err:
        customers.create({"name": NASTY}, region="PA")
    assert "name" in err.value.errors and "control character" in err.value.errors["name"]
    assert not Customer.select().where(Customer.name.contains("Fu")).exists()


def test_the_printer_gets_only_printable_text_whatever_the_database_holds():
    data = render([Row(NASTY), Row(cut=True)])
    assert b"Fu?[2J?p?0`ll" in data and b"\x1b[2J" not in data and b"\x1bp\x00" not in data


def test_exports_never_hand_a_spreadsheet_a_formula(demo, tmp_path):
    """OWASP "CSV Injection": a name `=HYPERLINK(...)` or `=cmd|...` went out as is; now it is text, and the
    import reads the export back unchanged."""
    import csv
    import io

    from tui_pos.domain.text import csv_cell
    assert csv_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("+50761234567") == "+50761234567" and csv_cell("-5") == "-5" and csv_cell(12) == 12
    customers.create({"code": "X1", "name": '=HYPERLINK("http://evil.example","x")', "phone": "6123-4567"},
                     region="PA")
    out = io.StringIO()
    customers.export_customers(out)
    row = next(r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["code"] == "X1")
    assert row["name"].startswith("'=HYPERLINK") and row["phone"] == "+50761234567"
    path = tmp_path / "back.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert customers.import_customers(path, region="PA") == (0, 0, 1)            # nothing changes
    assert Customer.get(Customer.code == "X1").name == '=HYPERLINK("http://evil.example","x")'


def test_a_users_name_with_a_control_character_is_refused(demo):
    """Found by a fresh-eye audit: `tui-pos user add $'\\e[2JEvil\\ep'` was stored as is, and signing in wiped the
    header; `tui-pos report x` and `tui-pos audit` wrote the raw ESC [2J and ESC p to the terminal."""
    from tui_pos.domain.errors import InputError
    from tui_pos.services import users
    with pytest.raises(InputError, match="control character"):
        users.add_user("\x1b[2JEvil\x1bp", "cashier", "4321")
    with pytest.raises(InputError, match="at most 40"):
        users.add_user("A" * 5000, "cashier", "4321")
    with pytest.raises(InputError, match="already exists"):
        users.add_user("ana", "cashier", "4321")                 # Ana is there: names are told apart without case


def test_invisible_marks_that_move_text_are_shown_as_question_marks():
    # U+202E (right-to-left override) turned a line's quantity and price columns around; U+200B hides
    from tui_pos.domain.text import control_at, printable
    assert control_at("abc\u202edef") == 4 and printable("abc\u202edef\u200bghi") == "abc?def?ghi"
    assert control_at("Núñez Café") is None
