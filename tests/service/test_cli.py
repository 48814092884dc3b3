"""The command line, run as a real process: config errors, init, import, users, doctor, backup."""

import os
import sqlite3
import subprocess
import sys

import pytest


def run(args, tmp_path, stdin="", config=None):
    env = dict(os.environ)
    if config is not None:
        cfg = tmp_path / "config.toml"
        cfg.write_text(config)
        env["TUI_POS_CONFIG"] = str(cfg)
    return subprocess.run([sys.executable, "-m", "tui_pos", *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)


def db_config(tmp_path, extra=""):
    return f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n' + extra


@pytest.mark.parametrize("config,fragment", [
    ('[printer]\ncolumns = "wide"\n', "printer.columns = 'wide': expected an integer from 24 to 64"),
    ('[printer]\nkind = "laser"\n', "printer.kind = 'laser': expected one of"),
    ('[store]\ncolour = "red"\n', "unknown key store.colour"),
    ('[shop]\nname = "x"\n', "unknown section [shop]"),
    ('[store\n', "not valid TOML"),
    ('[sale]\nmax_cashier_discount = "lots"\n', "sale.max_cashier_discount"),
    ('[store]\nphone_region = "XX"\n', "store.phone_region"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, config, fragment):
    result = run(["init"], tmp_path, config=config)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_repository_config_lists_every_key_with_its_default():
    import tomllib
    from pathlib import Path

    from tui_pos.config import SCHEMA, from_dict
    raw = tomllib.loads((Path(__file__).parents[2] / "config.toml").read_text())
    assert raw.pop("keys") == {}        # [keys] is the user's keymap: empty by default, its ids in userkeys
    assert {s: set(k) for s, k in raw.items()} == {s: set(k) for s, k in SCHEMA.items()}
    assert from_dict(raw) == from_dict({}, source=from_dict(raw).source)


def test_init_import_user_doctor_backup(tmp_path):
    cfg = db_config(tmp_path)
    assert run(["init"], tmp_path, config=cfg).returncode == 0
    again = run(["init"], tmp_path, config=cfg)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    csv = tmp_path / "p.csv"
    csv.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n"
                   "4006381333931,ESP,Espresso,Coffee,1.50,7,,\n")
    out = run(["import", "products", str(csv)], tmp_path, config=cfg)
    assert out.returncode == 0 and "1 created" in out.stdout
    out = run(["import", "products", str(csv)], tmp_path, config=cfg)
    assert "1 unchanged" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n,X,Y,,1.x,7,,\n")
    out = run(["import", "products", str(bad)], tmp_path, config=cfg)
    assert out.returncode == 1 and f"{bad}:2:5 (price)" in out.stderr and "nothing was written" in out.stderr

    out = run(["user", "add", "Ana", "--role", "cashier"], tmp_path, stdin="4321\n", config=cfg)
    assert out.returncode == 0, out.stderr
    out = run(["user", "add", "Bob", "--role", "cashier"], tmp_path, stdin="12\n", config=cfg)
    assert out.returncode == 1 and "4 to 8 digits" in out.stderr
    stored = sqlite3.connect(tmp_path / "pos.db").execute("SELECT pin_hash FROM user").fetchall()
    assert len(stored) == 1 and stored[0][0].startswith("scrypt$")

    out = run(["doctor"], tmp_path, config=cfg)
    assert out.returncode == 0 and "OK   schema: version" in out.stdout
    out = run(["backup", str(tmp_path / "copy.db")], tmp_path, config=cfg)
    assert out.returncode == 0
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT sku FROM product").fetchall() == [("ESP",)]


def test_printer_test_writes_escpos_to_file(tmp_path):
    out_file = tmp_path / "printer.bin"
    cfg = db_config(tmp_path, f'[printer]\nkind = "file"\npath = "{out_file}"\n')
    out = run(["printer", "test"], tmp_path, config=cfg)
    assert out.returncode == 0, out.stderr
    data = out_file.read_bytes()
    assert data.startswith(b"\x1b@") and b"Printer test" in data and data.endswith(b"\x1dV\x00")


def test_printer_test_reports_what_a_network_printer_says(tmp_path):
    from tui_pos.hardware.netprinter_sim import SimulatedPrinter
    sim = SimulatedPrinter().start()
    cfg = db_config(tmp_path, f'[printer]\nkind = "network"\nhost = "127.0.0.1"\nport = {sim.port}\n'
                              'profile = "TM-T88V"\ncolumns = 42\n')
    out = run(["printer", "test"], tmp_path, config=cfg)
    assert out.returncode == 0, out.stderr
    assert "profile TM-T88V (barcode, QR, images, cutter), 42 columns" in out.stdout
    assert "it says: online, paper ok" in out.stdout
    assert sim.wait_for(1) and any(b"Printer test" in job for job in sim.jobs)
    sim.paper = "out"
    out = run(["printer", "test"], tmp_path, config=cfg)
    assert out.returncode == 1 and "PAPER OUT" in out.stdout and "out of paper" in out.stderr
    sim.stop()
    out = run(["printer", "test"], tmp_path, config=cfg)
    assert out.returncode == 1 and "cannot connect" in out.stdout and "Traceback" not in out.stderr


def test_print_queue_and_reprint_from_the_command_line(tmp_path):
    from tui_pos.services.sales import SaleService
    cfg = db_config(tmp_path, f'[printer]\nkind = "file"\npath = "{tmp_path / "lp0"}"\n')
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    database = bind(f"sqlite:///{tmp_path / 'pos.db'}")
    migrate(database)
    seed_demo(with_loyalty=False)
    sales = SaleService("R1", print_queue=True)
    note = sales.open_note()
    sales.add_item(note, "ESP")
    sales.pay(note)
    database.close()
    out = run(["printer", "reprint", "r1-000001"], tmp_path, config=cfg)
    assert out.returncode == 0 and "R1-000001 queued" in out.stdout and "2 waiting" in out.stdout
    out = run(["printer", "queue"], tmp_path, config=cfg)
    assert "2 receipts waiting on R1" in out.stdout and "(copy)" in out.stdout
    out = run(["printer", "reprint", "R7-000001"], tmp_path, config=cfg)
    assert out.returncode == 1 and "No receipt 'R7-000001'" in out.stderr


def test_scanner_list_never_crashes(tmp_path):
    out = run(["scanner", "list"], tmp_path, config=db_config(tmp_path, ""))
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert out.stdout.strip()


def test_config_before_or_after_the_command_is_the_one_used(tmp_path):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('[printer]\ncolumns = "wide"\n')
    for args in (["--config", str(cfg), "init"], ["init", "--config", str(cfg)]):
        out = subprocess.run([sys.executable, "-m", "tui_pos", *args], capture_output=True, text=True, cwd=tmp_path,
                             timeout=60)
        assert out.returncode == 2 and "printer.columns" in out.stderr, args


def test_report_loyalty_csv_is_utf8_with_a_header_and_filters(tmp_path):
    import csv
    import io

    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo
    cfg = tmp_path / "config.toml"
    cfg.write_text(db_config(tmp_path))
    database = bind(f"sqlite:///{tmp_path / 'pos.db'}")
    migrate(database)
    seed_demo()                                   # the demo program and its three customers
    c = customers.create({"name": 'Núñez, "Ana"', "cards": "LOY-77"}, region="PA")
    loyalty.opening_balance(c.id, 2100)
    database.close()
    env = dict(os.environ, TUI_POS_CONFIG=str(cfg), PYTHONIOENCODING="ascii")  # UTF-8 whatever the locale
    out = subprocess.run([sys.executable, "-m", "tui_pos", "report", "loyalty", "--csv"], capture_output=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout.decode("utf-8"))))
    assert rows[0] == ["code", "name", "phone", "tier", "balance", "earned", "redeemed", "last_visit"]
    mine = next(r for r in rows if r[0] == c.code)
    assert mine[1] == 'Núñez, "Ana"' and mine[3:7] == ["Gold", "2100", "2100", "0"]
    out = subprocess.run([sys.executable, "-m", "tui_pos", "report", "loyalty", "--csv", "--tier", "gold"],
                         capture_output=True, cwd=tmp_path, env=env, timeout=60)
    assert [r[0] for r in csv.reader(io.StringIO(out.stdout.decode("utf-8")))][1:] == sorted([c.code, "C-ROSA"])
    out = subprocess.run([sys.executable, "-m", "tui_pos", "report", "loyalty", "--from", "2026-02-01", "--to",
                          "2026-01-01"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 2 and "before --from" in out.stderr


def test_rates_are_listed_shown_and_a_0_percent_line_is_refused(tmp_path):
    """Seed 003: "If don't keep the retail price and let the price to 0 at rate, only inform the discount":
    a discount of 0 % informs nothing, so it is refused with what to do instead."""
    cfg = db_config(tmp_path)
    assert run(["init"], tmp_path, config=cfg).returncode == 0
    products = tmp_path / "p.csv"
    products.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n"
                        ",AMER,Americano,Coffee,2.00,7,,\n,ESP,Espresso,Coffee,1.50,7,,\n")
    assert run(["import", "products", str(products)], tmp_path, config=cfg).returncode == 0
    assert run(["rate", "add", "desc", "Discount"], tmp_path, config=cfg).returncode == 0
    zero = run(["rate", "set", "DESC", "AMER", "0%"], tmp_path, config=cfg)
    assert zero.returncode != 0 and "0% off is the retail price" in zero.stderr
    assert "tui-pos rate remove DESC AMER" in zero.stderr
    assert run(["rate", "set", "DESC", "AMER", "10%"], tmp_path, config=cfg).returncode == 0
    assert run(["rate", "set", "DESC", "ESP", "1.20"], tmp_path, config=cfg).returncode == 0
    listed = run(["rate", "list"], tmp_path, config=cfg).stdout
    assert "DESC\tDiscount\tactive\talways to further notice\t2 products" in listed
    shown = run(["rate", "show", "desc"], tmp_path, config=cfg).stdout
    assert "AMER\tAmericano\tretail 2.00\t10% off retail" in shown and "ESP\tEspresso\tretail 1.50\t1.20" in shown
    assert run(["rate", "remove", "DESC", "AMER"], tmp_path, config=cfg).returncode == 0
    assert "AMER" not in run(["rate", "show", "DESC"], tmp_path, config=cfg).stdout


def test_group_names_are_one_whatever_their_case_and_groups_rename_and_delete(tmp_path):
    cfg = db_config(tmp_path)
    assert run(["init"], tmp_path, config=cfg).returncode == 0
    assert run(["group", "set", "VIP", "10"], tmp_path, config=cfg).returncode == 0
    listed = run(["group", "set", "vip", "15"], tmp_path, config=cfg).stdout
    assert "VIP\t15%" in listed and "vip" not in listed                   # one group, its spelling kept
    customers = tmp_path / "c.csv"
    customers.write_text("code,name,phone,mobile,email,ruc,dv,ruc_type,fiscal_name,group,rate,card,"
                         "payment_status,status,birthday,points\nC1,Ana,6123-4567,,,,,,,vip,,,0,open,,\n")
    assert run(["import", "customers", str(customers)], tmp_path, config=cfg).returncode == 0
    clash = run(["group", "rename", "VIP", "vip"], tmp_path, config=cfg)
    assert clash.returncode == 0                                           # the same group, new spelling
    assert run(["group", "set", "Employees", "5"], tmp_path, config=cfg).returncode == 0
    taken = run(["group", "rename", "vip", "EMPLOYEES"], tmp_path, config=cfg)
    assert taken.returncode != 0 and "There is a group 'Employees' already" in taken.stderr
    gone = run(["group", "delete", "VIP"], tmp_path, config=cfg)
    assert gone.returncode == 0 and "1 customers left it" in gone.stdout
    con = sqlite3.connect(tmp_path / "pos.db")
    assert con.execute("SELECT COUNT(*) FROM customer_group_member").fetchone()[0] == 0
    actions = [a for (a,) in con.execute("SELECT action FROM audit_log WHERE action LIKE 'group.%' ORDER BY id")]
    assert actions == ["group.set", "group.set", "group.rename", "group.set", "group.delete"]
