"""Operations as a support technician runs them: backup while selling, restore, doctor, close of day.

Real processes on a real SQLite file: `tui-pos` is run as a command, and a
second process keeps completing sales while the backup is taken.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from tests.service.test_cli import run

SELLER = textwrap.dedent('''
    import sys, time
    from tui_pos.models.db import bind
    from tui_pos.services.sales import SaleService
    bind(sys.argv[1]).connect()
    sales = SaleService("R2")
    stop = time.time() + float(sys.argv[2])
    n = 0
    while time.time() < stop:
        note = sales.open_note()
        sales.add_item(note, "CAPP")
        sales.add_item(note, "CROI")
        sales.pay(note, "cash", 1000)
        n += 1
    print(n)
''')


def config(tmp_path, extra=""):
    return f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n' + extra


@pytest.fixture
def store(tmp_path):
    """An initialised store with the demo catalogue and one sale on R1."""
    cfg = config(tmp_path)
    assert run(["init"], tmp_path, config=cfg).returncode == 0
    sell(tmp_path, 1)
    return cfg


def sell(tmp_path, count, register="R1"):
    code = textwrap.dedent(f'''
        from tui_pos.models.db import bind
        from tui_pos.services.demo import seed_demo
        from tui_pos.services.sales import SaleService
        bind("sqlite:///{tmp_path / 'pos.db'}").connect()
        seed_demo(with_loyalty=False)
        sales = SaleService("{register}")
        for _ in range({count}):
            note = sales.open_note()
            sales.add_item(note, "CAPP")
            sales.pay(note, "cash", 500)
    ''')
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_backup_while_a_register_is_selling_is_consistent(tmp_path, store):
    seller = subprocess.Popen([sys.executable, "-c", SELLER, f"sqlite:///{tmp_path / 'pos.db'}", "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    copies = []
    for i in range(3):
        out = run(["backup", str(tmp_path / f"copy{i}.db")], tmp_path, config=store)
        assert out.returncode == 0, out.stderr
        copies.append(tmp_path / f"copy{i}.db")
        time.sleep(0.3)
    out, err = seller.communicate(timeout=60)
    assert seller.returncode == 0, err
    assert int(out) > 10
    counts = []
    for path in copies:
        assert not (path.parent / (path.name + "-wal")).exists()   # one self-contained file
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        paid = con.execute("SELECT COUNT(*) FROM note WHERE status = 'paid'").fetchone()[0]
        # every paid note in the copy is whole: its lines, its payment, its number in sequence
        whole = con.execute("SELECT COUNT(*) FROM note n WHERE n.status = 'paid' AND "
                            "EXISTS (SELECT 1 FROM note_line l WHERE l.note_id = n.id) AND "
                            "EXISTS (SELECT 1 FROM payment p WHERE p.note_id = n.id)").fetchone()[0]
        assert paid == whole
        seqs = [r[0] for r in con.execute("SELECT n.seq FROM note n JOIN register r ON r.id = n.register_id "
                                          "WHERE r.code = 'R2' AND n.seq IS NOT NULL ORDER BY n.seq")]
        counter = con.execute("SELECT next_seq FROM register WHERE code = 'R2'").fetchone()
        assert seqs == list(range(1, (counter[0] if counter else 1)))
        counts.append(paid)
        con.close()
    assert counts == sorted(counts) and counts[-1] > counts[0]   # taken while sales went on


def test_backup_to_a_bad_place_says_so_and_writes_nothing(tmp_path, store):
    out = run(["backup", str(tmp_path / "nowhere" / "x.db")], tmp_path, config=store)
    assert out.returncode == 1 and "the directory" in out.stderr and "does not exist" in out.stderr
    (tmp_path / "taken.db").write_text("mine")
    out = run(["backup", str(tmp_path / "taken.db")], tmp_path, config=store)
    assert out.returncode == 1 and "already exists" in out.stderr
    assert (tmp_path / "taken.db").read_text() == "mine"
    assert "Traceback" not in out.stderr


def test_restore_refuses_what_is_not_ours_and_what_is_older(tmp_path, store):
    assert run(["backup", str(tmp_path / "old.db")], tmp_path, config=store).returncode == 0
    (tmp_path / "junk.db").write_text("not a database at all")
    out = run(["restore", str(tmp_path / "junk.db")], tmp_path, config=store)
    assert out.returncode == 1 and "not a tui-pos database" in out.stderr
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.close()
    out = run(["restore", str(tmp_path / "other.db")], tmp_path, config=store)
    assert out.returncode == 1 and "not a tui-pos database" in out.stderr
    out = run(["restore", str(tmp_path / "missing.db")], tmp_path, config=store)
    assert out.returncode == 1 and "does not exist" in out.stderr

    time.sleep(0.01)
    sell(tmp_path, 2)   # the database is now newer than the backup
    out = run(["restore", str(tmp_path / "old.db")], tmp_path, config=store)
    assert out.returncode == 1 and "newer than" in out.stderr and "--force" in out.stderr
    live = sqlite3.connect(tmp_path / "pos.db")
    assert live.execute("SELECT COUNT(*) FROM note WHERE status = 'paid'").fetchone()[0] == 3
    live.close()

    out = run(["restore", str(tmp_path / "old.db"), "--force"], tmp_path, config=store)
    assert out.returncode == 0, out.stderr
    assert "kept as" in out.stdout
    live = sqlite3.connect(tmp_path / "pos.db")
    assert live.execute("SELECT COUNT(*) FROM note WHERE status = 'paid'").fetchone()[0] == 1
    live.close()
    kept = [p for p in os.listdir(tmp_path) if ".before-restore-" in p]
    assert len(kept) == 1
    saved = sqlite3.connect(tmp_path / kept[0])
    assert saved.execute("SELECT COUNT(*) FROM note WHERE status = 'paid'").fetchone()[0] == 3
    # the restored database works: the register numbers on from the backup's counter
    sell(tmp_path, 1)
    doctor = run(["doctor"], tmp_path, config=store)
    assert "FAIL" not in doctor.stdout, doctor.stdout


def test_doctor_on_a_healthy_database(tmp_path, store):
    out = run(["doctor"], tmp_path, config=store)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert all(line.split()[0] in ("OK", "WARN", "FAIL") for line in lines[:-1])
    for fragment in ("OK   schema: version", "OK   integrity: ok", "OK   loyalty balances",
                     "OK   receipt numbers R1: 1 receipts, gapless", "WARN printer: none configured"):
        assert fragment in out.stdout
    assert lines[-1].endswith("0 failed, 2 warnings")   # no printer, no backup dir


def test_doctor_fails_on_a_broken_database(tmp_path, store):
    subprocess.run([sys.executable, "-c", textwrap.dedent(f'''
        from tui_pos.models.db import bind
        from tui_pos.services import customers
        bind("sqlite:///{tmp_path / 'pos.db'}").connect()
        customers.create({{"name": "Eve", "code": "C9"}}, region="PA")
    ''')], check=True, timeout=60)
    con = sqlite3.connect(tmp_path / "pos.db")
    con.execute("UPDATE customer SET points_balance = 50 WHERE code = 'C9'")   # a balance its ledger lacks
    con.execute("UPDATE register SET next_seq = next_seq + 1 WHERE code = 'R1'")   # a receipt number skipped
    con.commit()
    con.close()
    out = run(["doctor"], tmp_path, config=store)
    assert out.returncode == 1
    assert "FAIL loyalty balances: 1 differ from their ledger, e.g. C9: balance 50, ledger 0" in out.stdout
    assert "FAIL receipt numbers R1: gap or duplicate" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_doctor_on_an_old_schema_and_on_a_file_that_is_not_a_database(tmp_path, store):
    con = sqlite3.connect(tmp_path / "pos.db")
    con.execute("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
    con.commit()
    con.close()
    out = run(["doctor"], tmp_path, config=store)
    assert out.returncode == 1 and "FAIL schema" in out.stdout and "tui-pos init" in out.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pos.db").write_bytes(b"garbage" * 1000)
    out = run(["doctor"], broken, config=config(broken))
    assert out.returncode == 1 and "FAIL database: cannot open it" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_close_of_day_from_the_command_line_with_a_daily_backup(tmp_path, store):
    cfg = store + f'[sale]\nopening_float = "20.00"\n[backup]\ndir = "{tmp_path / "daily"}"\nkeep = 2\n'
    out = run(["report", "x"], tmp_path, config=cfg)
    assert out.returncode == 0 and "X REPORT" in out.stdout and "Sales (1)" in out.stdout
    assert "Expected                                 23.25" in out.stdout
    out = run(["report", "z", "--counted", "23.00"], tmp_path, config=cfg)
    assert out.returncode == 0, out.stderr
    assert "Z REPORT #1" in out.stdout and "Short" in out.stdout and "daily backup written to" in out.stdout
    for n in range(2, 5):
        sell(tmp_path, 1)
        out = run(["report", "z", "--counted", "3.25"], tmp_path, config=cfg)
        assert f"Z REPORT #{n}" in out.stdout
    kept = sorted(os.listdir(tmp_path / "daily"))
    assert len(kept) == 2 and kept[-1].endswith("-Z4.db")
    out = run(["report", "z", "--number", "1"], tmp_path, config=cfg)
    assert "Z REPORT #1" in out.stdout and "Counted" in out.stdout and "daily backup" not in out.stdout
    out = run(["report", "z", "--counted", "lots"], tmp_path, config=cfg)
    assert out.returncode == 2 and "letters" in out.stderr


def test_backup_of_a_postgresql_database_is_a_pg_dump(pg_schema_url, tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    cfg = f'[database]\nurl = "{pg_schema_url}"\n'
    assert run(["init"], tmp_path, config=cfg).returncode == 0
    out = run(["backup", str(tmp_path / "store.dump")], tmp_path, config=cfg)
    assert out.returncode == 0, out.stderr
    listing = subprocess.run(["pg_restore", "--list", str(tmp_path / "store.dump")], capture_output=True, text=True)
    assert listing.returncode == 0 and "TABLE DATA" in listing.stdout and " note " in listing.stdout
    schema = pg_schema_url.split("search_path%3D")[-1].split("&")[0] if "search_path%3D" in pg_schema_url else ""
    if schema:     # only the register's schema: not the other schemas of the database (created and dropped meanwhile)
        schemas = {line.split()[-3] for line in listing.stdout.splitlines() if " TABLE DATA " in line}
        assert schemas == {schema}, schemas
    out = run(["restore", str(tmp_path / "store.dump")], tmp_path, config=cfg)
    assert out.returncode == 1 and "pg_restore" in out.stderr
