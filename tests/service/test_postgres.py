"""PostgreSQL as the shared database: init, schema checks, one-line errors, migrate-to."""

import os
import subprocess
import sys

import pytest

from tui_pos.models import Customer, LoyaltyMovement, Note, PrintJob, db
from tui_pos.models.db import bind, explain, safe_url
from tui_pos.models.migrations import migrate

pytestmark = pytest.mark.postgres


def run(args, tmp_path, url):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n')
    env = dict(os.environ, TUI_POS_CONFIG=str(cfg))
    return subprocess.run([sys.executable, "-m", "tui_pos", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)


def test_init_creates_everything_on_an_empty_database_and_others_wait_for_it(pg_schema_url, tmp_path):
    out = run(["doctor"], tmp_path, pg_schema_url)
    assert out.returncode == 1 and "FAIL schema" in out.stdout and "run `tui-pos init` once" in out.stdout
    assert "Traceback" not in out.stderr
    out = run(["init"], tmp_path, pg_schema_url)
    from tui_pos.models.migrations import LATEST
    assert out.returncode == 0 and f"applied {list(range(1, LATEST + 1))}" in out.stdout, out.stderr
    assert "nothing to do" in run(["init"], tmp_path, pg_schema_url).stdout
    assert run(["doctor"], tmp_path, pg_schema_url).returncode == 0


def test_an_older_schema_is_refused_with_what_to_do(pg_schema_url, tmp_path):
    database = bind(pg_schema_url)
    migrate(database, target=5)
    database.close()
    for args in (["report", "loyalty"], []):   # a command, and the register itself
        out = run(args, tmp_path, pg_schema_url)
        assert out.returncode == 1 and "schema is at version 5" in out.stderr and "tui-pos init" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_bad_urls_and_refusing_servers_give_one_line_without_the_password(tmp_path):
    for url, fragment in [("postgresql://pos:s3cret@127.0.0.1:1/test", "cannot be reached"),
                          ("postgresql://pos:s3cret@127.0.0.1:x/test", "does not parse"),
                          ("postgresql://postgres@127.0.0.1:5432/no_such_db_here", "does not exist")]:
        out = run(["init"], tmp_path, url)
        assert out.returncode == 1 and fragment in out.stderr, out.stderr
        assert "s3cret" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert safe_url("postgresql://pos:s3cret@db/x") == "postgresql://pos:***@db/x"
    assert "does not parse" in explain(ValueError("bad"), "postgresql://x")


def test_migrate_to_copies_a_register_and_checks_it(tmp_path, pg_schema_url):
    from tui_pos.services import customers, loyalty
    from tui_pos.services.demo import seed_demo
    from tui_pos.services.sales import SaleService
    from tui_pos.services.transfer import migrate_to
    source = bind(f"sqlite:///{tmp_path / 'pos.db'}")
    migrate(source)
    seed_demo()
    sales = SaleService("R1", print_queue=True)
    ana = customers.lookup("LOY-0001", region="PA").customers[0]
    for code in ("ESP", "3*CAPP", "LATT"):
        note = sales.open_note()
        sales.add_item(note, code)
        sales.attach_customer(note, ana.id)
        sales.pay(note)
    before = {m.__name__: m.select().count() for m in (Customer, LoyaltyMovement, Note, PrintJob)}
    balance = Customer.get_by_id(ana.id).points_balance

    report = migrate_to(pg_schema_url)
    assert report.counts["note"] == before["Note"] and report.counts["loyalty_movement"] == before["LoyaltyMovement"]
    assert report.customers_checked == before["Customer"] and report.registers_checked == 1
    source.close()

    # the same register now runs on PostgreSQL: ids and receipt numbers carry on
    database = bind(pg_schema_url)
    assert Customer.get_by_id(ana.id).points_balance == balance
    assert loyalty.ledger_mismatches() == []
    sales = SaleService("R1")
    note = sales.open_note()
    sales.add_item(note, "ESP")
    assert sales.pay(note).receipt_no == "R1-000004"
    assert customers.create_with_phone("6999-0000", region="PA").id > before["Customer"]
    database.close()


def test_migrate_to_refuses_a_database_in_use(tmp_path, pg_schema_url):
    from tui_pos.services.demo import seed_demo
    from tui_pos.services.transfer import TransferError, migrate_to
    target = bind(pg_schema_url)
    migrate(target)
    seed_demo(with_loyalty=False)
    target.close()
    source = bind(f"sqlite:///{tmp_path / 'pos.db'}")
    migrate(source)
    with pytest.raises(TransferError, match="already holds data"):
        migrate_to(pg_schema_url)
    with pytest.raises(TransferError, match="expected a postgresql"):
        migrate_to(f"sqlite:///{tmp_path / 'other.db'}")
    source.close()


def test_doctor_reads_the_servers_durability_and_upkeep_settings(pg_schema_url, tmp_path):
    """Each setting as the server has it: OK when it keeps sales safe and the tables kept up, else what to do."""
    import psycopg
    assert run(["init"], tmp_path, pg_schema_url).returncode == 0
    out = run(["doctor"], tmp_path, pg_schema_url)
    assert "Traceback" not in out.stderr
    with psycopg.connect(pg_schema_url.split("?")[0]) as conn:
        actual = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                  for name in ("fsync", "synchronous_commit", "full_page_writes", "autovacuum")}
    lines = {line.split(None, 1)[1].split(":")[0]: line for line in out.stdout.splitlines()
             if line.split(None, 1)[1].startswith("server ")}
    assert set(lines) == {f"server {name}" for name in actual}, out.stdout
    for name, value in actual.items():
        line = lines[f"server {name}"]
        good = value in ("on", "local", "remote_write", "remote_apply")
        assert line.startswith("OK") == good and value in line, line
        if not good:
            assert line.startswith("WARN" if name != "fsync" else "FAIL") and "set " in line
    assert out.returncode == (1 if actual["fsync"] != "on" else 0)


def test_registers_starting_together_on_a_new_store_share_its_rows(pg_schema_url):
    """Eight registers (three codes) open on an empty store at once: one point of sale, one row per register
    code, and every register of a code has the same id. The first insert wins and the others find its row
    (INSERT ... ON CONFLICT DO NOTHING: no failed insert for the server to log as an error)."""
    import threading

    from tui_pos.models import PointOfSale, Register
    from tui_pos.services.sales import SaleService
    database = bind(pg_schema_url)
    migrate(database)
    database.close()
    barrier = threading.Barrier(8)
    found: dict[int, tuple[str, int]] = {}
    errors = []

    def start(n: int) -> None:
        try:
            sales = SaleService(f"R{n % 3 + 1}")
            barrier.wait(timeout=30)
            found[n] = (sales.register_code, sales.register_id)
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=start, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(found) == 8
    ids = {code: {rid for c, rid in found.values() if c == code} for code, _ in found.values()}
    assert all(len(v) == 1 for v in ids.values()) and len(ids) == 3
    assert PointOfSale.select().count() == 1
    assert sorted((r.code, r.id) for r in Register.select()) == sorted((c, v.pop()) for c, v in ids.items())
    database.close()
